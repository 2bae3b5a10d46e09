#include "authorization.hpp"

#include <algorithm>

#include "core/encoding.hpp"
#include "jose.hpp"

namespace devicelogin::devserver {

namespace {

constexpr std::size_t kMaxRedirectUriLength = 2048;
constexpr std::string_view kScheme = "http://";
// RFC 8252 §7.3 names exactly these two literals; §8.3: `localhost` is NOT RECOMMENDED, since a
// name can resolve elsewhere (or be listened on by another program), so it is not a loopback here.
constexpr std::string_view kLoopbackHosts[] = {"127.0.0.1", "[::1]"};
constexpr std::size_t kS256ChallengeLength = 43;  // 32 bytes in unpadded base64url

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

bool is_base64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::optional<LoopbackRedirect> parse_loopback_redirect(std::string_view uri) {
  if (uri.size() > kMaxRedirectUriLength || !uri.starts_with(kScheme)) return std::nullopt;
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view host;
  for (std::string_view candidate : kLoopbackHosts) {
    if (rest.starts_with(candidate)) host = candidate;
  }
  if (host.empty()) return std::nullopt;
  rest.remove_prefix(host.size());
  std::string_view port;
  if (rest.starts_with(':')) {
    std::size_t digits = 1;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    port = rest.substr(1, digits - 1);
    // Canonical decimal only (no leading zero), 1-65535.
    if (port.empty() || port.size() > 5 || port.front() == '0' || std::stoul(std::string(port)) > 65535) {
      return std::nullopt;
    }
    rest.remove_prefix(digits);
  }
  // A path is required (RFC 8252 §7.3 shows one); the authority ends there, so "127.0.0.1.evil"
  // or "127.0.0.1@evil" never get this far.
  if (!rest.starts_with('/')) return std::nullopt;
  // RFC 6749 §3.1.2: no fragment. Printable ASCII only: no spaces, controls or backslashes,
  // which browsers and URL parsers disagree on.
  for (char c : rest) {
    if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\') return std::nullopt;
  }
  LoopbackRedirect redirect;
  redirect.without_port = std::string(kScheme) + std::string(host) + std::string(rest);
  redirect.origin = std::string(kScheme) + std::string(host) + (port.empty() ? "" : ":" + std::string(port));
  return redirect;
}

bool redirect_uri_registered(std::string_view requested, const std::vector<std::string>& registered) {
  auto wanted = parse_loopback_redirect(requested);
  if (!wanted) return false;
  return std::any_of(registered.begin(), registered.end(), [&](const std::string& uri) {
    auto known = parse_loopback_redirect(uri);
    return known && known->without_port == wanted->without_port;
  });
}

bool valid_code_verifier(std::string_view verifier) {
  return verifier.size() >= 43 && verifier.size() <= 128 && std::all_of(verifier.begin(), verifier.end(), is_unreserved);
}

bool valid_s256_challenge(std::string_view challenge) {
  return challenge.size() == kS256ChallengeLength && std::all_of(challenge.begin(), challenge.end(), is_base64url);
}

std::string s256_challenge(std::string_view verifier) { return core::base64url_encode(sha256(verifier)); }

bool pkce_s256_verifies(std::string_view verifier, std::string_view challenge) {
  if (!valid_code_verifier(verifier) || !valid_s256_challenge(challenge)) return false;
  return constant_time_equal(s256_challenge(verifier), challenge);
}

std::string redirect_with(std::string_view redirect_uri,
                          const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out(redirect_uri);
  char separator = out.find('?') == std::string::npos ? '?' : '&';
  if (out.ends_with('?') || out.ends_with('&')) separator = '\0';
  for (const auto& [name, value] : params) {
    if (separator != '\0') out += separator;
    separator = '&';
    out += core::url_encode(name);
    out += '=';
    out += core::url_encode(value);
  }
  return out;
}

}  // namespace devicelogin::devserver
