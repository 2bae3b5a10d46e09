#pragma once
// TokenSet: the tokens one login produced, and a view of them that is safe to log.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/clock.hpp"
#include "devicelogin/export.hpp"
#include "devicelogin/secret.hpp"

namespace devicelogin {

// What a token endpoint returned, normalised.
struct TokenSet {
  Secret access_token;
  std::string token_type = "Bearer";
  // Unix seconds on the local clock: from expires_in, or from the JWT `exp` claim converted from
  // the server's clock with clock_offset_s, so that comparing it with the local time is right.
  std::optional<long long> expires_at;
  Secret refresh_token;                 // empty when the server issued none
  std::optional<long long> refresh_expires_at;  // unix seconds, when the server said (refresh_token_expires_in)
  Secret id_token;                      // empty when the server issued none
  std::string scope;                    // granted scope, empty when not reported
  std::string subject;                  // `sub` of the ID token (or JWT access token) when known
  long long obtained_at = 0;            // unix seconds
  // When the login that issued this set (or the set it was refreshed from) completed, unix
  // seconds; kept across refreshes (a machine policy's session limit counts from it). nullopt in
  // sets stored before it was recorded.
  std::optional<long long> signed_in_at;
  // Where these tokens may be sent back: the token endpoint and client they were issued to.
  // Refresh and revocation refuse a set bound elsewhere than the profile now says, so that a
  // re-login that saved its tokens but failed to save its profile can never send them to the old
  // server. Empty in sets stored before this was recorded; those are not checked.
  std::string token_endpoint;
  std::string client_id;
  // The server's clock minus the local clock (seconds) as last learned from the server's `Date`
  // headers when these tokens were obtained or refreshed; nullopt when it gave none usable.
  std::optional<long long> clock_offset_s;
  // Why the token endpoint last refused the refresh token (one line, never a secret), when it did
  // and no refresh or login has succeeded since: the session needs a new sign-in, although the
  // set is kept as it was (a server that answered a bare 400 or 401 may take it again later).
  std::string refresh_refused;
  // The private DPoP key (RFC 9449) the tokens are bound to, as a private JWK; empty for tokens
  // not bound to a key. Kept with the tokens, in the same store, and replaced by every new login.
  Secret dpop_key;
  // How the audit trail names the access token without revealing it ("jti:<its JWT id>" or
  // "sha256:<8 hex digits>"): worked out when the set is stored, read back with it, so that the
  // `token` hot path does not decode the token's claims on every hand-out. Empty for a set read
  // from an older version (the name is then worked out when needed); ignored when storing.
  std::string access_token_id;

  // True when the access token is still valid at `now` + `min_ttl` (unknown expiry counts as valid).
  [[nodiscard]] bool fresh_at(long long now, long long min_ttl) const {
    // Written as a difference so that a huge min_ttl cannot overflow.
    return !access_token.empty() && (!expires_at || *expires_at - now > min_ttl);
  }
};

// True when `tokens` may be used with this token endpoint and client: they were issued there,
// or they were stored before the binding was recorded.
[[nodiscard]] inline bool bound_to(const TokenSet& tokens, std::string_view token_endpoint, std::string_view client_id) {
  if (tokens.token_endpoint.empty() && tokens.client_id.empty()) return true;
  return tokens.token_endpoint == token_endpoint && tokens.client_id == client_id;
}

// The scheme of an `Authorization: <scheme> <token>` header for a token of this type (RFC 6750
// §2.1): "Bearer" for "bearer" in any case and for an empty or malformed type, else the type.
[[nodiscard]] inline std::string authorization_scheme(std::string_view token_type) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  bool bearer = token_type.size() == 6;
  bool plain = !token_type.empty();
  for (std::size_t i = 0; i < token_type.size(); ++i) {
    const char c = token_type[i];
    if (i < 6 && bearer && lower(c) != "bearer"[i]) bearer = false;
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-' && c != '_' && c != '.') plain = false;
  }
  if (bearer || !plain) return "Bearer";
  return std::string(token_type);
}

// An access token as it is handed out: its value with the type and expiry that say how to use
// it, so that no caller reads the store a second time to learn them (a DPoP-bound token is sent
// differently from a Bearer one).
struct AccessToken {
  Secret value;
  std::string token_type = "Bearer";    // as the server said (RFC 6749 §7.1)
  std::optional<long long> expires_at;  // Unix seconds on the local clock; nullopt when unknown

  // The token itself (as Secret::reveal(), a greppable call).
  [[nodiscard]] std::string_view reveal() const noexcept { return value.reveal(); }
  [[nodiscard]] bool empty() const noexcept { return value.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return value.size(); }
  // Constant-time comparison of the value with `other`.
  [[nodiscard]] bool equals(const Secret& other) const noexcept { return value.equals(other); }
  void wipe() noexcept { value.wipe(); }
  // The value of an `Authorization` header that carries it: "<scheme> <token>" with the scheme
  // authorization_scheme() gives for its type, in wiping storage.
  [[nodiscard]] Secret authorization() const {
    Secret header(authorization_scheme(token_type));
    header.append(" ");
    header.append(value.reveal());
    return header;
  }
};

// The safe-to-log view of a TokenSet: no secret, just facts about it.
struct TokenInfo {
  std::string token_type;
  std::optional<long long> expires_at;
  std::string scope;
  std::string subject;
  bool has_refresh_token = false;
  bool has_id_token = false;
  std::optional<long long> clock_offset_s;  // server clock minus local clock, when known
  // The RFC 7638 thumbprint of the DPoP key the token is bound to (RFC 9449's `jkt`), empty for a
  // token not bound to a key (or when the session did not read the key).
  std::string jkt;
};

[[nodiscard]] DEVICELOGIN_API TokenInfo token_info(const TokenSet& tokens);

// What a profile's set takes in its store, for `status`. Fields a store cannot tell are nullopt.
struct StoreUsage {
  std::optional<std::size_t> set_bytes;       // the stored set; nullopt when none is stored
  std::optional<long long> quota_used_bytes;  // kernel keyring: the user's key quota in use
  std::optional<long long> quota_max_bytes;   // kernel keyring: the user's key quota
};

}  // namespace devicelogin
