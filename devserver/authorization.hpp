#pragma once
// The pure rules of the authorization code grant: loopback redirect URIs (RFC 8252 §7.3, §8.3),
// PKCE S256 (RFC 7636) and the redirect back to the client (RFC 6749 §4.1.2). No I/O, no time.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace devicelogin::devserver {

// A redirect URI the server may send a browser to: `http://127.0.0.1[:PORT]/path[?query]` or
// `http://[::1][:PORT]/path[?query]`, spelled exactly so. Returns the URI without its port (the
// part that must match a registered URI exactly) and, separately, the origin to redirect to;
// nullopt for anything else (another host, `localhost`, https, userinfo, a fragment, a port
// outside 1-65535, control characters or spaces, more than 2048 bytes).
struct LoopbackRedirect {
  std::string without_port;  // e.g. http://127.0.0.1/callback
  std::string origin;        // e.g. http://127.0.0.1:50123 (the scheme, host and port as given)
};
[[nodiscard]] std::optional<LoopbackRedirect> parse_loopback_redirect(std::string_view uri);

// RFC 8252 §7.3: true when `requested` is a loopback redirect equal to one of `registered`
// except for the port, which may be any (the client listens on an ephemeral port).
[[nodiscard]] bool redirect_uri_registered(std::string_view requested, const std::vector<std::string>& registered);

// RFC 7636 §4.1: 43-128 characters of [A-Z] [a-z] [0-9] - . _ ~.
[[nodiscard]] bool valid_code_verifier(std::string_view verifier);
// An S256 code_challenge: BASE64URL(SHA256(verifier)), always 43 characters of base64url.
[[nodiscard]] bool valid_s256_challenge(std::string_view challenge);
// RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))).
[[nodiscard]] std::string s256_challenge(std::string_view verifier);
// RFC 7636 §4.6: true when `verifier` is well formed and its S256 transform is `challenge`
// (compared in constant time).
[[nodiscard]] bool pkce_s256_verifies(std::string_view verifier, std::string_view challenge);

// `redirect_uri` with `params` appended to its query (RFC 6749 §4.1.2: "adding the following
// parameters to the query component ... using the application/x-www-form-urlencoded format").
[[nodiscard]] std::string redirect_with(std::string_view redirect_uri,
                                        const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace devicelogin::devserver
