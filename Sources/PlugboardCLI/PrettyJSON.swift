import PlugboardJSON

extension JSONValue {
    /// Indented JSON for people reading a terminal; key order is kept as the tool wrote it.
    var prettyJSONString: String {
        var out = ""
        writePretty(to: &out, indent: "")
        return out
    }

    private func writePretty(to out: inout String, indent: String) {
        let inner = indent + "  "
        switch self {
        case .object(let object) where !object.isEmpty:
            out += "{\n"
            for (index, entry) in object.entries.enumerated() {
                out += inner + JSONValue.string(entry.key).jsonString + ": "
                entry.value.writePretty(to: &out, indent: inner)
                out += index == object.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        case .array(let array) where !array.isEmpty:
            out += "[\n"
            for (index, element) in array.enumerated() {
                out += inner
                element.writePretty(to: &out, indent: inner)
                out += index == array.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        default:
            out += jsonString
        }
    }
}
