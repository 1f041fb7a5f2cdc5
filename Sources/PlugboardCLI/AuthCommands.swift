import ArgumentParser
import Foundation
import Logging
import PlugboardAuth
import PlugboardData
import PlugboardServer

/// The host's authorization store for a CLI command, migrated.
private func authStore(_ options: ConfigOption) async throws -> AuthStore {
    let configuration = try options.load()
    let store = try PlugboardApp.store(at: configuration.database, logger: bootstrapLogging(level: .warning))
    _ = try await store.migrate()
    return store.auth
}

/// A password from stdin's first line (scripts) or typed at a prompt that does not echo.
private func readPassword(fromStdin: Bool, prompt: String) throws -> String {
    let password: String?
    if fromStdin {
        password = readLine(strippingNewline: true)
    } else {
        password = getpass(prompt).map { String(cString: $0) }
    }
    guard let password, password.count >= 8 else {
        throw ValidationError("a password needs at least 8 characters")
    }
    return password
}

private func formatted(_ seconds: Int64) -> String {
    ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
}

struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the users who sign in to the authorization server.",
        subcommands: [Add.self, List.self, Passwd.self, Disable.self, Enable.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user; their name is the owner of their rows.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The user name, as stored in the owner columns of your tables.") var name: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false

        func run() async throws {
            guard !name.isEmpty, name.count <= 200, !name.contains(where: \.isWhitespace) else {
                throw ValidationError("a user name is 1 to 200 characters without spaces")
            }
            let store = try await authStore(options)
            let hash = try await Passwords.hash(try readPassword(fromStdin: passwordStdin, prompt: "Password for \(name): "))
            guard try await store.addUser(name, passwordHash: hash, at: Int64(Date().timeIntervalSince1970)) else {
                throw ValidationError("user \(name) exists already; change the password with `plugboard user passwd \(name)`")
            }
            print("added user \(name)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            for user in try await authStore(options).users() {
                print("\(user.name)  \(user.disabled ? "disabled" : "active")  created \(formatted(user.createdAt))")
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        @Flag(help: "Read the password from the first line of standard input.") var passwordStdin = false

        func run() async throws {
            let store = try await authStore(options)
            let hash = try await Passwords.hash(try readPassword(fromStdin: passwordStdin, prompt: "New password for \(name): "))
            guard try await store.setPassword(of: name, to: hash) else { throw ValidationError("there is no user \(name)") }
            print("password of \(name) changed")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop a user from signing in; their tokens stop working within the token cache time (auth.token_cache_s).")
        @OptionGroup var options: ConfigOption
        @Argument var name: String

        func run() async throws {
            guard try await authStore(options).setDisabled(name, true) else { throw ValidationError("there is no user \(name)") }
            print("disabled \(name)")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a disabled user sign in again.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String

        func run() async throws {
            guard try await authStore(options).setDisabled(name, false) else { throw ValidationError("there is no user \(name)") }
            print("enabled \(name)")
        }
    }
}

struct Client: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage pre-registered OAuth clients.", subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a public client (PKCE, no secret) and print its client_id.")
        @OptionGroup var options: ConfigOption
        @Option(help: "The name the consent page shows.") var name: String
        @Option(name: .customLong("redirect-uri"), help: "An allowed redirect URI: https, or http on a loopback address. Repeatable.")
        var redirectURIs: [String]

        func run() async throws {
            guard !redirectURIs.isEmpty else { throw ValidationError("give at least one --redirect-uri") }
            for uri in redirectURIs where !RedirectURI.isAllowed(uri) {
                throw ValidationError("redirect URI \(uri) must be https, or http on a loopback address, without a fragment")
            }
            let client = ClientRecord(
                id: Secrets.make(prefix: "pbclient_"), name: name, redirectURIs: redirectURIs, origin: .cli,
                createdAt: Int64(Date().timeIntervalSince1970))
            try await authStore(options).addClient(client)
            print(client.id)
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage static API tokens for scripts and CI.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token and print it (it is shown only this once).")
        @OptionGroup var options: ConfigOption
        @Option(help: "The user the token acts as.") var user: String
        @Option(help: "Space-separated scopes; without it the token may call every tool.") var scopes: String?
        @Option(help: "A label for `token list`.") var name: String?

        func run() async throws {
            let store = try await authStore(options)
            guard let record = try await store.user(user), !record.disabled else {
                throw ValidationError("there is no active user \(user); add one with `plugboard user add \(user)`")
            }
            let granted = scopes.map { $0.split(separator: " ").map(String.init) } ?? [AuthStore.everyScope]
            let server = AuthorizationServer(
                store: store, settings: AuthSettings(), verifier: TokenVerifier(store: store), logger: Logger(label: "plugboard"))
            let (token, id) = try await server.createAPIToken(owner: user, scopes: granted, name: name)
            print(token)
            FileHandle.standardError.write(Data("token \(id) for \(user); store it now, it cannot be shown again\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API tokens (never the tokens themselves).")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            for grant in try await authStore(options).apiGrants() {
                let state = grant.revokedAt.map { "revoked \(formatted($0))" } ?? "active"
                print("\(grant.id)  \(grant.owner)  \(grant.name ?? "-")  scopes=\(grant.scopes.joined(separator: ","))  created \(formatted(grant.createdAt))  \(state)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke an API token by the id `token list` shows; servers stop accepting it within auth.token_cache_s.")
        @OptionGroup var options: ConfigOption
        @Argument var id: String

        func run() async throws {
            let store = try await authStore(options)
            guard let grant = try await store.grant(id), grant.kind == .api else { throw ValidationError("there is no API token \(id)") }
            _ = try await store.revokeGrant(id, at: Int64(Date().timeIntervalSince1970))
            print("revoked \(id)")
        }
    }
}

struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Check how the server decides on access tokens.", subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a token as /mcp would (with the configured issuer, live) and say what the server decides and why.")
        @OptionGroup var options: ConfigOption
        @Option(help: "The access token to check.") var token: String
        @Option(help: "The MCP URL the token is presented to (default: server.public_url + /mcp, else the listen address).")
        var resource: String?

        func run() async throws {
            let configuration = try options.load()
            let logger = bootstrapLogging(level: .error)
            let verifier: any BearerVerifier
            switch configuration.auth.mode {
            case .none:
                throw ValidationError("auth.mode is 'none': every call runs as \(configuration.auth.localOwner) and no token is checked")
            case .external:
                guard let issuer = configuration.auth.external else { throw ValidationError("auth mode 'external' needs auth.issuer") }
                verifier = ExternalTokenVerifier(issuer: issuer, cacheSeconds: 0, logger: logger)
            case .oauth:
                let store = try PlugboardApp.store(at: configuration.database, logger: logger)
                verifier = TokenVerifier(store: store.auth, cacheSeconds: 0)
            }
            let server = configuration.server
            let resource = resource ?? ((server.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? "http://\(server.host):\(server.port)") + "/mcp")
            let outcome: BearerOutcome
            do {
                outcome = try await verifier.verify(token, resource: resource)
            } catch {
                print("cannot decide (503): \(error)")
                throw ExitCode(2)
            }
            switch outcome {
            case .invalid(let reason):
                print("refused (401 invalid_token) for \(resource): \(reason)")
                throw ExitCode(1)
            case .valid(let record) where configuration.auth.requireScope && ScopePolicy.lacksBase(record):
                print("refused (403 insufficient_scope) for \(resource): the token lacks the \(ScopePolicy.base) scope (auth.require_scope)")
                throw ExitCode(1)
            case .valid(let record):
                let scopes = record.unrestricted ? "every scope" : record.scopes.joined(separator: " ")
                print("accepted for \(resource): owner '\(record.owner)', client '\(record.clientID)', scopes: \(scopes)")
            }
        }
    }
}
