import PlugboardData
import Testing

@testable import PlugboardAuth

@Suite("Pending authorization requests")
struct LoginSessionsTests {
    @Test("a flood of authorization requests cannot grow the pending ones past their bound; the newest stays")
    func bounded() {
        let sessions = LoginSessions()
        let client = ClientRecord(id: "c", name: "C", redirectURIs: ["http://127.0.0.1/cb"], origin: .registered, createdAt: 0)
        let request = AuthorizationRequest(client: client, redirectURI: "http://127.0.0.1/cb", state: nil, codeChallenge: "x", scopes: [], resource: "r")
        let ids = (0..<20_001).map { _ in sessions.add(request) }
        let kept = ids.filter { sessions.pending($0) != nil }
        #expect(kept.count == 20_000)
        #expect(sessions.pending(ids[20_000]) != nil)
    }
}
