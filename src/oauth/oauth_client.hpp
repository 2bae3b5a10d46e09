#pragma once
// The requests of RFC 8628 and RFC 6749/7009 for one profile: device code, token poll, refresh,
// revocation, each with the profile's client authentication.
#include <string_view>

#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "core/encoding.hpp"
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

  // RFC 8628 §3.1: asks for a device code and a user code.
  [[nodiscard]] Result<DeviceAuthorization> request_device_code();
  // RFC 8628 §3.4: one poll of the token endpoint. Transport failures are returned as errors
  // (kNetwork), and so is an answer that device-code sign-in is turned off (device_flow_blocked);
  // every other HTTP answer is classified in the TokenReply.
  [[nodiscard]] Result<TokenReply> poll_token(const Secret& device_code, long long now);
  // RFC 6749 §6: one refresh request.
  [[nodiscard]] Result<TokenReply> refresh(const Secret& refresh_token, long long now);
  // RFC 7009 §2.1: revokes one token. kConfig when the server has no revocation endpoint.
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

  const Profile& profile_;
  HttpClient& http_;
};

}  // namespace devicelogin::oauth
