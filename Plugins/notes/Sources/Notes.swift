import PlugboardKit
import Synchronization

/// Notes kept in memory per owner: shows resources (a fixed one and a template), a computed
/// prompt, and that every call knows who it runs for.
@c(plugboard_plugin_v1)
public func plugboardPlugin() -> UnsafePointer<pb_plugin> {
    Plugboard.export(name: "notes", version: "1.0.0") { plugin in
        let store = NoteStore()

        plugin.tool("notes.add") { (arguments: NewNote, call) in
            let note = store.add(owner: call.owner, title: arguments.title, body: arguments.body)
            return .structured(note)
        }

        plugin.tool("notes.list") { call in
            .structured(NoteList(notes: store.notes(of: call.owner)))
        }

        plugin.resource("notes.read") { request, call in
            guard let id = request.parameters["id"].flatMap(Int.init), let note = store.note(id, of: call.owner) else {
                // Another owner's note does not exist for this caller: "not found", never "forbidden".
                throw NotFound("no note \(request.parameters["id"] ?? "")")
            }
            return try .json(note)
        }

        plugin.resource("notes.index") { _, call in
            let lines = store.notes(of: call.owner).map { "notes://\($0.id) \($0.title)" }
            return .text(lines.isEmpty ? "(no notes yet)" : lines.joined(separator: "\n"))
        }

        plugin.prompt("notes.summarize") { request, call in
            let notes = store.notes(of: call.owner)
            let listing = notes.map { "- \($0.title): \($0.body)" }.joined(separator: "\n")
            let style = request.arguments["style"] ?? "short"
            return PromptResult(
                description: "Summarise the caller's notes",
                messages: [PromptMessage("Write a \(style) summary of these notes:\n\(listing.isEmpty ? "(none)" : listing)")])
        }
    }
}

struct NewNote: Decodable {
    let title: String
    let body: String
}

struct Note: Encodable, Sendable {
    let id: Int
    let title: String
    let body: String
}

struct NoteList: Encodable {
    let notes: [Note]
}

/// Notes by owner. Lives as long as this loaded copy of the plugin.
final class NoteStore: Sendable {
    private struct State {
        var nextID = 1
        var notes: [String: [Note]] = [:]
    }

    private let state = Mutex(State())

    func add(owner: String, title: String, body: String) -> Note {
        state.withLock { state in
            let note = Note(id: state.nextID, title: title, body: body)
            state.nextID += 1
            state.notes[owner, default: []].append(note)
            return note
        }
    }

    func notes(of owner: String) -> [Note] {
        state.withLock { $0.notes[owner] ?? [] }
    }

    func note(_ id: Int, of owner: String) -> Note? {
        notes(of: owner).first { $0.id == id }
    }
}
