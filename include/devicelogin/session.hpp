#pragma once
// Session: the public facade. Sign in a profile with the device flow, get a valid access token,
// refresh, log out. Everything a CLI author needs; see examples/.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "devicelogin/clock.hpp"
#include "devicelogin/export.hpp"
#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/sanitize.hpp"
#include "devicelogin/token_set.hpp"
#include "devicelogin/token_store.hpp"

namespace devicelogin {

// What `login` was asked for; turned into a Profile by prepare_profile.
struct LoginSettings {
  std::string profile = "default";
  std::string provider;  // preset name, or empty for a standards-following server
  std::string issuer;    // discovery base; required without a preset that fixes endpoints
  std::string tenant;    // microsoft
  std::string client_id;
  std::string scope;
  std::string audience;
  Endpoints endpoints;  // non-empty fields replace discovered / preset ones
  std::string client_secret_file;
  std::string client_secret_env;
  std::string ca_file;
  std::string store = "auto";  // resolved by prepare_profile (see resolve_store_name)
};

// Applies the provider preset, runs discovery (OIDC, then RFC 8414) when an issuer is given,
// applies explicit endpoints, and checks the URL policy. Sends requests only for discovery, and
// for a Microsoft tenant named by domain, to learn its tenant-id issuer; their Date headers give
// the profile's first clock_offset_s.
[[nodiscard]] DEVICELOGIN_API Result<Profile> prepare_profile(const LoginSettings& settings, HttpClient& http);

// What the user must see to approve the login; all fields are server text with control
// characters removed.
struct DeviceCodePrompt {
  std::string user_code;
  std::string verification_uri;
  std::string verification_uri_complete;  // may be empty
  std::string message;                    // provider's own instructions (Entra), may be empty
  long long expires_in = 0;
  long long interval = 0;
};

// What logout did.
struct LogoutOutcome {
  bool revoked = false;
  bool deleted = false;
  std::string revocation_problem;  // why revocation failed or was skipped; empty when revoked
};

// Callbacks a login reports through; all optional.
struct LoginObserver {
  std::function<void(const DeviceCodePrompt&)> on_code;       // once, as soon as the code exists
  std::function<void(long long seconds_left)> on_waiting;     // before each wait
  // Once, when the new set replaced a stored one: whether that one was revoked (as by logout).
  std::function<void(const LogoutOutcome&)> on_replaced = {};
};

// A profile bound to its token store, an HTTP client and a clock.
class DEVICELOGIN_API Session {
 public:
  Session(Profile profile, std::unique_ptr<TokenStore> store, HttpClient& http, Clock& clock);
  ~Session();
  Session(Session&&) noexcept;

  // Runs the device flow to completion and stores the tokens, then revokes the set they replace
  // (a failed revocation is reported through the observer, never fails the login). First proves
  // the store has room (kStorage before any request when not). kAccessDenied, kExpiredToken,
  // kCancelled, kNetwork/kServer, kProtocol; nothing is stored on failure, and tokens issued but
  // not stored are revoked. The server's clock is learned from the Date headers of its https (or
  // loopback) answers: times it issued (ID token iat/exp/nbf, a JWT access token's exp) are judged
  // on its clock, and the result's clock_offset_s (also in profile()) says how far the local clock
  // is off.
  [[nodiscard]] Result<TokenInfo> login(const LoginObserver& observer);
  // A valid access token, refreshed first when it expires within min_ttl seconds.
  // kNotLoggedIn when nothing is stored, kReloginRequired when the refresh token is rejected.
  [[nodiscard]] Result<Secret> access_token(long long min_ttl);
  // Refreshes now (RFC 6749 §6) and stores the result, keeping the old refresh token when the
  // server returns none; the clock offset is learned again from the answer and stored too. Proves
  // the store has room first (kStorage before anything is sent); when the save fails anyway, the
  // new tokens are revoked and the stored set is left as it was.
  [[nodiscard]] Result<TokenInfo> refresh();
  // Revokes (RFC 7009: refresh token, then access token) when the server has an endpoint, then
  // deletes locally even when revocation failed. Fails only when deletion failed.
  [[nodiscard]] Result<LogoutOutcome> logout();
  // Sends `request` with `Authorization: <type> <access token>` (refreshed first when it expires
  // within min_ttl seconds); on a 401 it refreshes once and retries. Returns the API's response,
  // whatever its status; errors as access_token() and the HttpClient give them.
  [[nodiscard]] Result<HttpResponse> fetch(HttpRequest request, long long min_ttl = 60);
  // The stored set's safe view, or nullopt when logged out.
  [[nodiscard]] Result<std::optional<TokenInfo>> status();

  [[nodiscard]] const Profile& profile() const;
  [[nodiscard]] TokenStore& store();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace devicelogin
