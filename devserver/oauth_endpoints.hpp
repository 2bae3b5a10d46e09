#pragma once
// The OAuth endpoints: device authorization (RFC 8628 §3.1-3.2), token (RFC 6749 §5, RFC 8628
// §3.4-3.5: device_code, authorization_code with PKCE (RFC 7636) and refresh_token grants), revocation (RFC 7009), introspection
// (RFC 7662), userinfo (OIDC Core §5.3), and the discovery and JWKS documents; DPoP (RFC 9449) at
// the token, revocation and userinfo endpoints.
#include <string>

#include <httplib.h>

#include "client_auth.hpp"
#include "devicelogin/clock.hpp"
#include "directory.hpp"
#include "dpop.hpp"
#include "faults.hpp"
#include "http_common.hpp"
#include "jose.hpp"
#include "state.hpp"

namespace devicelogin::devserver {

// The scope a client gets for `requested` (RFC 6749 §3.3): its allowed scopes (or the default)
// when empty; invalid_scope for a malformed or disallowed token or a scope over 1024 bytes.
[[nodiscard]] OAuthResult<std::string> resolve_scope(const ClientSpec& client, std::string_view requested);

class OAuthEndpoints {
 public:
  // What the endpoints answer with: the issuer and the lifetimes.
  struct Settings {
    std::string issuer;  // no trailing slash
    long long interval = 5;
    long long code_ttl = 600;
    long long access_token_ttl = 3600;
    long long refresh_token_ttl = 86400;
    bool omit_expires_in = false;
  };

  // Every reference must outlive this object. "Now" is `clock.now()` (code expiry, poll spacing,
  // token iat/exp and lifetimes); `faults` supplies the token endpoint's hang-ups.
  OAuthEndpoints(Settings settings, const SigningKey& key, State& state, DpopValidator& dpop, const Directory& directory,
                 const ClientAuth& client_auth, Faults& faults, const Clock& clock, EventLog log);

  void device_authorization(const httplib::Request& req, httplib::Response& res);
  void token(const httplib::Request& req, httplib::Response& res);
  void revoke(const httplib::Request& req, httplib::Response& res);
  void introspect(const httplib::Request& req, httplib::Response& res);
  void userinfo(const httplib::Request& req, httplib::Response& res);

  // RFC 8414 / OIDC Discovery metadata, built once.
  [[nodiscard]] const std::string& discovery_document() const { return discovery_body_; }
  // The JWK Set with the signing key's public half, built once.
  [[nodiscard]] const std::string& jwks_document() const { return jwks_body_; }
  // Where people approve codes: ISSUER/device.
  [[nodiscard]] const std::string& verification_uri() const { return verification_uri_; }

 private:
  // The DPoP proof of a request to `path` (with `access_token` for its ath), checked; sets the
  // DPoP-Nonce header on the answer when nonces are required.
  [[nodiscard]] std::expected<std::string, DpopFailure> check_dpop(const httplib::Request& req, httplib::Response& res,
                                                                   std::string_view path,
                                                                   const std::string* access_token);
  // At the authorization server: the proof's key thumbprint, empty without a DPoP header; answers
  // the failure itself (400 invalid_dpop_proof or use_dpop_nonce) and returns nullopt.
  [[nodiscard]] std::optional<std::string> authorization_server_proof(const httplib::Request& req,
                                                                      httplib::Response& res, std::string_view path);
  void device_code_grant(httplib::Response& res, const Form& form, const ClientSpec& client, const std::string& jkt);
  void refresh_token_grant(httplib::Response& res, const Form& form, const ClientSpec& client, const std::string& jkt);
  void authorization_code_grant(httplib::Response& res, const Form& form, const ClientSpec& client,
                                const std::string& jkt);
  // `access_jkt` binds the access token to a DPoP key; `refresh_jkt` is the key the refresh token
  // is bound to (both empty for bearer tokens).
  // `nonce`, when not empty, goes into the ID token (OIDC Core §3.1.3.7).
  void issue_tokens(httplib::Response& res, const TokenView& view, SystemTime now, const std::string& access_jkt,
                    const std::string& refresh_jkt, std::string_view nonce = {});

  Settings settings_;
  const SigningKey& key_;
  State& state_;
  DpopValidator& dpop_;
  const Directory& directory_;
  const ClientAuth& client_auth_;
  Faults& faults_;
  const Clock& clock_;
  EventLog log_;
  std::string discovery_body_;
  std::string jwks_body_;
  std::string verification_uri_;
};

}  // namespace devicelogin::devserver
