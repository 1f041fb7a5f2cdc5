import Crypto
import Foundation

/// Random bearer secrets and the digests they are stored under.
public enum Secrets {
    /// A new secret: `prefix` (which tells a leaked string's kind at a glance) and 256 random bits, base64url.
    public static func make(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(Data(bytes))
    }

    /// The SHA-256 digest a secret is stored and looked up under (hex).
    public static func digest(_ secret: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Array(secret.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Compares in time independent of where the strings differ.
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// PKCE (RFC 7636), S256 only.
public enum PKCE {
    /// True if `verifier` is well formed (43–128 unreserved characters) and hashes to `challenge`.
    public static func verify(verifier: String, challenge: String) -> Bool {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        guard (43...128).contains(verifier.utf8.count), verifier.unicodeScalars.allSatisfy(unreserved.contains) else { return false }
        return Secrets.constantTimeEquals(Secrets.base64URL(Data(SHA256.hash(data: Data(verifier.utf8)))), challenge)
    }

    /// A challenge is the base64url SHA-256 of a verifier: exactly 43 characters.
    public static func isWellFormedChallenge(_ challenge: String) -> Bool {
        challenge.utf8.count == 43
            && challenge.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" }
    }
}
