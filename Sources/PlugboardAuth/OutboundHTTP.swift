import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A refused or failed outbound fetch, worded for the log of the person configuring the server.
public struct FetchError: Error, Sendable, CustomStringConvertible {
    public let description: String
    /// A refusal that asking again will not change (a forbidden URL or address, an unusable
    /// answer), as opposed to a failure of the moment (a timeout, a server error, too busy).
    public let lasting: Bool

    init(_ description: String, lasting: Bool = false) {
        self.description = description
        self.lasting = lasting
    }
}

/// GET and POST to other servers: JWKS and introspection endpoints the configuration names, and
/// client metadata documents a client names, which an attacker may point anywhere (SSRF).
public struct OutboundHTTP: Sendable {
    /// How far an untrusted URL may reach.
    public struct Reach: Sendable {
        /// Plain http and private, loopback and link-local addresses: only for tests on loopback.
        public var allowLocal: Bool

        public init(allowLocal: Bool) {
            self.allowLocal = allowLocal
        }
    }

    public struct Reply: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: [UInt8]
    }

    let maxBytes: Int
    let timeout: TimeAmount

    public init(maxBytes: Int = 64 * 1024, timeout: TimeAmount = .seconds(5)) {
        self.maxBytes = maxBytes
        self.timeout = timeout
    }

    /// A request to a URL the configuration names (trusted: any address, redirects not followed).
    public func fetch(_ url: String, method: HTTPMethod = .GET, headers: HTTPHeaders = [:], body: [UInt8]? = nil) async throws -> Reply {
        try await execute(url, method: method, headers: headers, body: body, pin: nil)
    }

    /// A GET of a URL someone else chose: https only, every address the name resolves to must be
    /// public, and the connection goes to the address checked (no second lookup an attacker's DNS
    /// could answer differently). No redirects, bounded size and time.
    public func fetchUntrusted(_ url: String, reach: Reach) async throws -> Reply {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw FetchError("\(url) is not an absolute URL", lasting: true)
        }
        guard components.scheme == "https" || (reach.allowLocal && components.scheme == "http") else {
            throw FetchError("\(url) must use https", lasting: true)
        }
        guard components.user == nil, components.password == nil, components.fragment == nil else {
            throw FetchError("\(url) must not carry credentials or a fragment", lasting: true)
        }
        let addresses = try await Self.resolve(host.trimmingCharacters(in: ["[", "]"]))
        if !reach.allowLocal, let local = addresses.first(where: { !PublicAddress.isPublic($0) }) {
            throw FetchError("\(host) resolves to \(local), which is not a public address", lasting: true)
        }
        guard let pinned = addresses.first else { throw FetchError("\(host) does not resolve") }
        return try await execute(url, method: .GET, headers: [:], body: nil, pin: (host, pinned))
    }

    private func execute(_ url: String, method: HTTPMethod, headers: HTTPHeaders, body: [UInt8]?, pin: (host: String, address: String)?) async throws
        -> Reply
    {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: timeout, read: timeout), decompression: .disabled)
        if let pin { configuration.dnsOverride = [pin.host: pin.address] }
        // One try per fetch: retrying a refused connection until the deadline would only turn
        // "connection refused" into "did not answer in time" for the person reading the log.
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: configuration)
        do {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers = headers
            request.headers.replaceOrAdd(name: "User-Agent", value: "plugboard")
            if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
            let (prepared, maxBytes, timeout) = (request, maxBytes, timeout)
            // One deadline for the whole exchange: AsyncHTTPClient's ends with the response head,
            // and a server trickling its body must not hold the fetch for long.
            let reply = try await withThrowingTaskGroup(of: Reply?.self) { group in
                group.addTask {
                    let response = try await client.execute(prepared, timeout: timeout)
                    var collected = try await response.body.collect(upTo: maxBytes)
                    let bytes = collected.readBytes(length: collected.readableBytes) ?? []
                    return Reply(status: Int(response.status.code), headers: response.headers, body: bytes)
                }
                group.addTask {
                    try await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                    return nil
                }
                defer { group.cancelAll() }
                if let first = try await group.next(), let reply = first { return reply }
                throw FetchError("\(url) did not answer within the time limit")
            }
            try await client.shutdown()
            return reply
        } catch {
            try? await client.shutdown()
            if error is NIOTooManyBytesError { throw FetchError("\(url) answered more than \(maxBytes) bytes", lasting: true) }
            if error is FetchError { throw error }
            if let reason = Self.connectionFailure(error) { throw FetchError("cannot connect to \(url): \(reason)") }
            throw FetchError("cannot fetch \(url): \(error)")
        }
    }

    /// Why a connection could not be made, worded for a person, or nil if `error` is not that.
    private static func connectionFailure(_ error: any Error) -> String? {
        let causes: [any Error] =
            if let failure = error as? NIOConnectionError { failure.connectionErrors.map(\.error) } else if error is IOError { [error] } else { [] }
        guard !causes.isEmpty else { return nil }
        if causes.contains(where: { ($0 as? IOError)?.errnoCode == ECONNREFUSED }) { return "connection refused (is the server running?)" }
        return causes.map { "\($0)" }.joined(separator: "; ")
    }

    /// Every address `host` resolves to (getaddrinfo, off the event loops).
    static func resolve(_ host: String) async throws -> [String] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, nil, &hints, &list)
            guard status == 0, let first = list else { throw FetchError("cannot resolve \(host): \(String(cString: gai_strerror(status)))") }
            defer { freeaddrinfo(first) }
            var addresses: [String] = []
            var node: UnsafeMutablePointer<addrinfo>? = first
            while let current = node {
                if let address = current.pointee.ai_addr {
                    var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    if getnameinfo(address, current.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                        let value = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                        if !addresses.contains(value) { addresses.append(value) }
                    }
                }
                node = current.pointee.ai_next
            }
            return addresses
        }
    }
}

/// Whether an IP address belongs to the public internet (not private, loopback, link-local,
/// shared, documentation, multicast or reserved space).
enum PublicAddress {
    static func isPublic(_ text: String) -> Bool {
        if let v4 = ipv4(text) { return isPublicV4(v4) }
        var bytes = [UInt8](repeating: 0, count: 16)
        guard inet_pton(AF_INET6, text, &bytes) == 1 else { return false }
        if bytes.allSatisfy({ $0 == 0 }) { return false }  // ::
        if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return false }  // ::1
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {  // ::ffff:a.b.c.d
            return isPublicV4(Array(bytes[12..<16]))
        }
        if bytes[0..<12] == [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0][...] { return isPublicV4(Array(bytes[12..<16])) }  // NAT64
        guard bytes[0] & 0xe0 == 0x20 else { return false }  // only 2000::/3 is global unicast
        if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0d && bytes[3] == 0xb8 { return false }  // documentation
        if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0 && bytes[3] == 0 { return false }  // Teredo
        if bytes[0] == 0x20 && bytes[1] == 0x02 { return false }  // 6to4 wraps arbitrary IPv4
        return true
    }

    private static func ipv4(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: address.s_addr) { Array($0) }
    }

    private static func isPublicV4(_ b: [UInt8]) -> Bool {
        switch (b[0], b[1]) {
        case (0, _), (10, _), (127, _), (169, 254), (192, 168): return false
        case (100, 64...127): return false  // shared address space
        case (172, 16...31): return false
        case (192, 0) where b[2] == 0 || b[2] == 2: return false
        case (192, 88) where b[2] == 99: return false  // 6to4 relay anycast
        case (198, 18...19): return false
        case (198, 51) where b[2] == 100: return false
        case (203, 0) where b[2] == 113: return false
        case (224...255, _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }
}
