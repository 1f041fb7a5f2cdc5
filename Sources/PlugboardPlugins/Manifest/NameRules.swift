/// Names clients see (tools, prompts, plugins): `^[A-Za-z0-9_.-]{1,64}$`, the set every MCP client
/// accepts.
public enum NameRules {
    public static let pattern = "^[A-Za-z0-9_.-]{1,64}$"

    public static func isValid(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count) else { return false }
        return name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}
