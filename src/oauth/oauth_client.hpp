#pragma once
// The requests of RFC 8628 and RFC 6749/7009 for one profile: device code, token poll, refresh,
// revocation, each with the profile's client authentication.
#include <functional>
#include <string_view>

#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "core/encoding.hpp"
#include "oauth/dpop.hpp"
#include "oauth/wire.hpp"

namespace devicelogin::oauth {

inline constexpr std::string_view kDeviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code";

// The client secret a profile refers to (file or environment variable), or an empty Secret for
// a public client. kConfig when the reference cannot be read; kStorage for an unsafe file.
[[nodiscard]] Result<Secret> read_client_secret(const Profile& profile);

// Sends one profile's OAuth requests through an HttpClient.
class OAuthClient {
 public:
  OAuthClient(const Profile& profile, HttpClient& http) : profile_(profile), http_(http) {}

  // From now on, token requests (polls and refresh) carry a DPoP proof signed by `key` (RFC 9449
  // §5), with `iat` from `server_now` (the server's clock) and the nonce `nonces` holds for the
  // token endpoint's origin; a 400 use_dpop_nonce is retried once with the nonce it gives (§8).
  // Tokens issued to such a request must be of type DPoP: another type is kServer. `key` and
  // `nonces` must outlive the client.
  void use_dpop(const DpopKey& key, DpopNonceCache& nonces, std::function<long long()> server_now) {
    dpop_key_ = &key;
    dpop_nonces_ = &nonces;
    server_now_ = std::move(server_now);
  }

  // RFC 8628 §3.1: asks for a device code and a user code.
  [[nodiscard]] Result<DeviceAuthorization> request_device_code();
  // RFC 8628 §3.4: one poll of the token endpoint. Transport failures are returned as errors
  // (kNetwork), and so is an answer that device-code sign-in is turned off (device_flow_blocked);
  // every other HTTP answer is classified in the TokenReply.
  [[nodiscard]] Result<TokenReply> poll_token(const Secret& device_code, long long now);
  // RFC 6749 §4.1.3 with RFC 7636 §4.5: exchanges an authorization code for tokens, sending the
  // PKCE verifier and the redirect URI the code was issued to. Classified as poll_token's answers.
  [[nodiscard]] Result<TokenReply> exchange_code(const Secret& code, const Secret& code_verifier,
                                                 const std::string& redirect_uri, long long now);
  // RFC 6749 §6: one refresh request.
  [[nodiscard]] Result<TokenReply> refresh(const Secret& refresh_token, long long now);
  // RFC 7009 §2.1: revokes one token, with a DPoP proof when use_dpop() was called (a server may
  // require one to revoke a DPoP-bound token, as for its refresh). kConfig when the server has no
  // revocation endpoint.
  [[nodiscard]] Result<void> revoke(const Secret& token, std::string_view token_type_hint);
  // Ends the server-side session of a provider without RFC 7009 that has a session logout
  // (WorkOS: GET <token endpoint's origin>/user_management/sessions/logout?session_id=<sid>, the
  // session named by the access token's `sid` claim). Succeeds on a 2xx or 3xx answer (WorkOS
  // redirects). kConfig when the provider has none or the access token names no session; kServer
  // for another status.
  [[nodiscard]] Result<void> end_session(const Secret& access_token);

 private:
  [[nodiscard]] Result<HttpRequest> form_request(const std::string& url, std::string_view what, core::FormFields fields);
  [[nodiscard]] Result<TokenReply> token_request(core::FormFields fields, long long now);

  [[nodiscard]] Result<HttpResponse> send_with_dpop(const HttpRequest& request);
  // revoke(), with a proof only when `with_proof` (and use_dpop() was called).
  [[nodiscard]] Result<void> revoke_one(const Secret& token, std::string_view token_type_hint, bool with_proof);
  // The tokens of `tokens` revoked (refresh token first), without a proof: what happens to a set
  // the server issued unbound to a request that asked for binding. A phrase for the message.
  [[nodiscard]] std::string revoke_unbound(const TokenSet& tokens);

  const Profile& profile_;
  HttpClient& http_;
  const DpopKey* dpop_key_ = nullptr;
  DpopNonceCache* dpop_nonces_ = nullptr;
  std::function<long long()> server_now_;
};

}  // namespace devicelogin::oauth
