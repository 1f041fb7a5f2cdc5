import PlugboardAuth

/// The login, consent and error pages: plain server-rendered HTML, no scripts.
enum AuthorizePages {
    static func login(serverName: String, request: AuthorizationRequest, requestID: String, csrf: String, message: String? = nil) -> String {
        page(
            title: "Sign in · \(serverName)",
            body: """
                <h1>Sign in to \(escape(serverName))</h1>
                <p class="lead"><strong>\(escape(request.client.name))</strong> wants to use your account.</p>
                \(message.map { "<p class=\"error\" role=\"alert\">\(escape($0))</p>" } ?? "")
                <form method="post" action="/authorize/login">
                  <input type="hidden" name="request" value="\(escape(requestID))">
                  <input type="hidden" name="csrf_token" value="\(escape(csrf))">
                  <label for="username">User name</label>
                  <input id="username" name="username" autocomplete="username" autocapitalize="none" required autofocus>
                  <label for="password">Password</label>
                  <input id="password" name="password" type="password" autocomplete="current-password" required>
                  <button type="submit" class="primary">Sign in</button>
                </form>
                """)
    }

    /// - Parameter descriptions: words for people by scope (from the manifests); a scope without
    ///   them is shown by its name alone.
    static func consent(
        serverName: String, request: AuthorizationRequest, user: String, requestID: String, csrf: String, descriptions: [String: String] = [:]
    ) -> String {
        let host = RedirectURI.host(of: request.redirectURI)
        let scopes = request.scopes.map { scope in
            let words = scope == ScopePolicy.base ? "Use \(serverName)" : descriptions[scope]
            return "<li>\(words.map { "\(escape($0)) " } ?? "")<code>\(escape(scope))</code></li>"
        }.joined()
        let loopbackNote =
            RedirectURI.isLoopbackURI(request.redirectURI)
            ? "<p class=\"note\">This application runs on this computer (it receives the answer at \(escape(host))).</p>" : ""
        return page(
            title: "Allow access · \(serverName)",
            body: """
                <h1>Allow <strong>\(escape(request.client.name))</strong>?</h1>
                <p class="lead">Signed in as <strong>\(escape(user))</strong>. \(escape(request.client.name)) will act as you on \(escape(serverName)),
                seeing only your data, with these permissions:</p>
                <ul class="scopes">\(scopes)</ul>
                <p>After you answer you are sent to <strong>\(escape(host))</strong>.</p>
                \(loopbackNote)
                <form method="post" action="/authorize/consent" class="buttons">
                  <input type="hidden" name="request" value="\(escape(requestID))">
                  <input type="hidden" name="csrf_token" value="\(escape(csrf))">
                  <button type="submit" name="decision" value="deny">Deny</button>
                  <button type="submit" name="decision" value="allow" class="primary">Allow</button>
                </form>
                """)
    }

    static func error(serverName: String, _ message: String) -> String {
        page(title: "Cannot authorize · \(serverName)", body: "<h1>This request cannot be authorized</h1><p class=\"error\">\(escape(message))</p>")
    }

    private static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;background:#f4f5f7;color:#1d2330}
        main{max-width:26rem;margin:8vh auto;background:#fff;border-radius:12px;box-shadow:0 2px 12px #0002;padding:2rem 2.2rem}
        h1{font-size:1.35rem;margin:0 0 .8rem} .lead{color:#444} label{display:block;margin:.9rem 0 .3rem;font-weight:600}
        input{box-sizing:border-box;width:100%;padding:.6rem .7rem;border:1px solid #c5cad3;border-radius:8px;font:inherit}
        button{margin-top:1.3rem;padding:.6rem 1.2rem;border-radius:8px;border:1px solid #c5cad3;background:#fff;font:inherit;cursor:pointer}
        button.primary{background:#2f5bea;border-color:#2f5bea;color:#fff} form>button.primary{width:100%}
        .buttons{display:flex;gap:.8rem;justify-content:flex-end} .error{color:#b00020;font-weight:600}
        .scopes{padding-left:1.2rem} .scopes code{font-size:.85em;color:#666} .note{font-size:.9rem;color:#666}
        </style></head>
        <body><main>
        \(body)
        </main></body></html>
        """
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
