#pragma once
// Session: the public facade. Open a named session, sign in with the device flow, get a valid
// access token, call an API with it, refresh, log out, read the status. See docs/library.md and
// examples/todo_cli.cpp.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/clock.hpp"
#include "devicelogin/export.hpp"
#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/sanitize.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin {

// The token store behind a session (devicelogin/advanced/token_store.hpp: for programs that
// inspect or implement one).
class TokenStore;
namespace session {
class Engine;  // what a Session is, inside the library
}

// What a sign-in is asked for; turned into a Profile by prepare_profile. Session::login ignores
// `profile` (the session's name is used).
struct LoginSettings {
  std::string profile = "default";
  std::string provider{};  // preset name, or empty for a standards-following server
  std::string issuer{};    // discovery base; required without a preset that fixes endpoints
  std::string tenant{};    // microsoft
  std::string client_id{};
  std::string scope{};
  std::string audience{};
  Endpoints endpoints{};  // non-empty fields replace discovered / preset ones
  std::string client_secret_file{};
  std::string client_secret_env{};
  std::string ca_file{};
  // A token store name or "auto" (resolve_store_name). Empty: "auto" for a new profile, the saved
  // profile's store when signing in again with it.
  std::string store{};
  // API base URLs to add to the profile's api_urls (https, or http on loopback), after those it
  // already has when it signs in again to the same issuer.
  std::vector<std::string> api_urls{};
  // Bind the tokens to a key (DPoP, RFC 9449). nullopt: as the saved profile says (off for a new
  // profile).
  std::optional<bool> dpop{};
  // How to sign in. nullopt: as the saved profile says (auto for a new profile). Remembered in the
  // profile.
  std::optional<LoginFlow> flow{};
  // For auto: whether a browser can be opened on this machine. nullopt: judged from the
  // environment (a graphical session, DISPLAY or WAYLAND_DISPLAY, that is not an SSH login).
  std::optional<bool> local_browser{};
  // The browser flow's deadline: how long the loopback listener waits for the browser's answer,
  // 1 to 86400 seconds (login refuses another value with kUsage).
  long long browser_timeout_s = 300;
};

// Applies the provider preset, runs discovery (OIDC, then RFC 8414) when an issuer is given,
// applies explicit endpoints, and checks the URL policy. Sends requests only for discovery, and
// for a Microsoft tenant named by domain, to learn its tenant-id issuer; their Date headers give
// the profile's first clock_offset_s.
[[nodiscard]] DEVICELOGIN_API Result<Profile> prepare_profile(const LoginSettings& settings, HttpClient& http);

// What the user must see to approve the login; all fields are server text with control
// characters removed.
struct DeviceCodePrompt {
  std::string user_code{};
  std::string verification_uri{};
  std::string verification_uri_complete{};  // may be empty
  std::string message{};                    // provider's own instructions (Entra), may be empty
  long long expires_in = 0;
  long long interval = 0;
  // Where the user approves: the verification URI's host as the browser reaches it (lower case,
  // an internationalised name in its xn-- form), to show prominently. Never a host that the
  // profile's provider preset does not know (login fails instead).
  std::string verification_host{};
  // One sentence when that host deserves a second look (it is not the authorization server's,
  // or it is an internationalised name), else empty.
  std::string host_warning{};
};

// What a request sent by the caller's own HTTP client carries to present the access token.
struct RequestCredentials {
  // The Authorization header's value, "<scheme> <access token>": "DPoP" for a token bound to a
  // key (RFC 9449 §7.1), else the scheme authorization_scheme() gives for its type.
  Secret authorization{};
  // The DPoP header's value: a proof (RFC 9449 §4.2) for this one method and URL, signed by the
  // key the token is bound to; empty for a token that is not bound to a key.
  Secret dpop_proof{};
  std::string token_type{};  // as the server issued it
};

// What the user must open to sign in with the browser flow.
struct BrowserPrompt {
  // The authorization request (RFC 6749 §4.1.1): not a secret (the PKCE verifier never leaves
  // this process), but not for logs either.
  std::string authorization_url{};
  std::string redirect_uri{};        // the loopback listener, http://127.0.0.1:PORT/callback
  std::string authorization_host{};  // where the user signs in, lower case, to show prominently
  long long expires_in = 0;          // seconds the listener waits
};

// What logout did.
struct LogoutOutcome {
  bool revoked = false;
  bool deleted = false;
  std::string revocation_problem{};  // why revocation failed or was skipped; empty when revoked
};

// Callbacks a login reports through; all optional.
struct LoginObserver {
  std::function<void(const DeviceCodePrompt&)> on_code{};       // once, as soon as the code exists
  std::function<void(long long seconds_left)> on_waiting{};     // before each wait
  // Once, when the new set replaced a stored one: whether that one was revoked (as by logout).
  std::function<void(const LogoutOutcome&)> on_replaced = {};
  // Once the profile is prepared and its store opened, before the server is asked for a code
  // (e.g. to warn that the store is a plaintext file).
  std::function<void(const Profile&, const TokenStore&)> on_start = {};
  // When the profile moved to another store, what happened to the tokens left in the previous
  // one (named by the first argument): revoked and deleted as by logout, or why not. Never fails
  // the login.
  std::function<void(const std::string& previous_store, const Result<LogoutOutcome>&)> on_previous_store = {};
  // Browser flow: once the loopback listener is ready, with the URL the browser must open (the
  // caller opens it and shows it).
  std::function<void(const BrowserPrompt&)> on_browser = {};
  // Auto flow: the device flow was refused as turned off for this app (`why`), and the browser
  // flow starts instead.
  std::function<void(const Error& why)> on_flow_change = {};
};

// What Session::open uses instead of the defaults. Everything is optional.
struct SessionOptions {
  // The HTTP client for every request; default: the libcurl client (make_curl_http_client) with
  // the profile's CA file and `trace`. Shared, so it outlives the session.
  std::shared_ptr<HttpClient> http{};
  // The clock; default: SystemClock.
  std::shared_ptr<Clock> clock{};
  // With the default HTTP client: receives its redacted trace, one line per call.
  std::function<void(std::string_view line)> trace{};
  // Where profiles are kept; default: $XDG_CONFIG_HOME/devicelogin/profiles.
  std::string profile_directory{};
  // Who the audit trail ($XDG_STATE_HOME/devicelogin/audit.jsonl) names as receiving this
  // session's tokens: a short word ("git", "exec", ...; empty: "library") and its detail (the
  // host, the command's name; for fetch(), the request's origin when empty). The process's pid
  // and executable are recorded whatever these say.
  std::string audit_consumer{};
  std::string audit_detail{};
};

// What Session::status reports: the profile, its store, and the stored set's safe view.
struct SessionStatus {
  std::string profile;
  std::string issuer;
  std::string client_id;
  std::string store;           // the store's short name ("file", "kernel-keyring", "secret-service")
  std::string store_location;  // where the tokens live, for messages
  // The stored set, when there is one this profile may use; nullopt when logged out or when
  // relogin_required.
  std::optional<TokenInfo> tokens;
  // Tokens are stored, but they were issued by another server or to another client than the
  // profile names now (its settings changed): they are not used; sign in again.
  bool relogin_required = false;
  std::string relogin_reason;  // why, when relogin_required (one sentence, no secret)
  // The server's clock minus the local one, as last learned (the last refresh's, else the login's).
  std::optional<long long> clock_offset_s;
  StoreUsage usage;  // best effort: empty when the store could not tell
  // The machine policy's limits on this session (devicelogin/policy.hpp), unix times; nullopt
  // when the policy sets none (or nothing is stored).
  std::optional<long long> session_ends_at;  // max_session_hours after the login
  std::optional<long long> idle_ends_at;     // idle_hours after the last hand-out
  std::optional<long long> idle_limit_s;
  [[nodiscard]] bool logged_in() const { return tokens.has_value(); }
};

// A named profile bound to its token store, an HTTP client and a clock. Not thread-safe: use one
// Session per thread (Sessions of one profile in many threads or processes are safe together; the
// store's per-profile lock makes them refresh once).
class DEVICELOGIN_API Session {
 public:
  // The session of profile `name`, saved or not yet: loads its settings when it was saved before
  // and opens its token store. Fails only for an invalid name (kUsage) or an unusable profile
  // directory; a profile that is missing or unreadable is reported by the calls that need it.
  [[nodiscard]] static Result<Session> open(const std::string& name, SessionOptions options = {});
  // The names of every saved profile, sorted.
  [[nodiscard]] static Result<std::vector<std::string>> profiles(const SessionOptions& options = {});
  // The profile to open when the user names none: $DEVICELOGIN_PROFILE, else the one
  // set_default_profile chose, else "default".
  [[nodiscard]] static Result<std::string> default_profile(const SessionOptions& options = {});
  // Makes `name` the default profile for later runs (it need not be saved yet).
  [[nodiscard]] static Result<void> set_default_profile(const std::string& name, const SessionOptions& options = {});

  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Signs in again with the saved profile: login(LoginSettings{}, observer).
  [[nodiscard]] Result<TokenInfo> login(const LoginObserver& observer);
  // The whole sign-in. With server settings (issuer, provider, tenant or endpoints) the profile
  // is prepared from them (preset, discovery, store choice); with none, the saved profile signs in
  // again (client_id, scope and store may still be changed). The store is first proved to have
  // room (kStorage before any request when not); then the device flow runs to completion and the
  // tokens are stored, and the set they replace is revoked (a failed revocation is reported
  // through the observer, never fails the login); then the profile is saved with the JWKS cache
  // that verified the ID token. kAccessDenied, kExpiredToken, kCancelled, kNetwork/kServer,
  // kProtocol; nothing is stored on failure, and tokens issued but not stored are revoked. When
  // the profile's save fails, the new tokens are revoked and deleted (nothing is left that
  // nothing manages) and the error says so. When the store changed, the tokens left in the
  // previous one are revoked and deleted (reported through on_previous_store). The server's clock
  // is learned from the Date headers of its https (or loopback) answers: times it issued (ID
  // token iat/exp/nbf, a JWT access token's exp) are judged on its clock, and the result's
  // clock_offset_s (also in profile()) says how far the local clock is off. On failure the
  // session is as it was. kUsage with Remedy::kAddSettings when there are no settings and no
  // saved profile.
  [[nodiscard]] Result<TokenInfo> login(const LoginSettings& settings, const LoginObserver& observer);
  // A valid access token with its type and expiry, refreshed first when it expires within
  // min_ttl seconds. kNotLoggedIn when nothing is stored, kReloginRequired when the refresh token
  // is rejected.
  [[nodiscard]] Result<AccessToken> access_token(long long min_ttl);
  // Refreshes now (RFC 6749 §6) and stores the result, keeping the old refresh token when the
  // server returns none; the clock offset is learned again from the answer and stored too. Proves
  // the store has room first (kStorage before anything is sent); when the save fails anyway, the
  // new tokens are revoked and the stored set is left as it was.
  [[nodiscard]] Result<TokenInfo> refresh();
  // Revokes (RFC 7009: refresh token, then access token) when the server has an endpoint, then
  // deletes locally even when revocation failed. Fails only when deletion failed.
  [[nodiscard]] Result<LogoutOutcome> logout();
  // logout() of a set this profile left in `other`, a store it no longer names (an earlier
  // login's, or another version's): revoked at this profile's server when it was issued there
  // (revocation_problem says why not otherwise), then deleted from `other`.
  [[nodiscard]] Result<LogoutOutcome> logout_from(TokenStore& other);
  // Succeeds when a request to `url` may carry this profile's token: its origin (scheme, host and
  // port, RFC 6454) is that of one of the profile's API base URLs or of its userinfo endpoint.
  // Otherwise kUsage with Remedy::kAddSettings, setting "api_urls" and the profile's name. Where
  // the machine policy lists `api_origins`, the origin must match one of them too (kConfig naming
  // the policy file otherwise).
  [[nodiscard]] Result<void> check_token_destination(std::string_view url) const;
  // Sends `request` with `Authorization: <scheme> <access token>` (the scheme of the token's type,
  // authorization_scheme(); refreshed first when it expires
  // within min_ttl seconds); on a 401 it refreshes once and retries. Returns the API's response,
  // whatever its status; errors as access_token() and the HttpClient give them. A URL that
  // check_token_destination() refuses fails with its error before any token is read or sent, and
  // so does (kUsage) a request that sets Host, Authorization, Proxy-Authorization, Cookie or DPoP
  // (they decide where or as whom the token goes), a method that is not upper-case letters, a
  // GET or HEAD with a body, or a header name that is not a token or value with CR, LF or NUL.
  [[nodiscard]] Result<HttpResponse> fetch(HttpRequest request, long long min_ttl = 60);
  // fetch() of a GET with these headers.
  [[nodiscard]] Result<HttpResponse> get(const std::string& url, HttpHeaders headers = {}, long long min_ttl = 60);
  // The headers that present a valid access token (refreshed first as access_token() does) on a
  // `method` request to `url` that the caller sends with its own HTTP client: Authorization, and
  // for a DPoP-bound token a fresh proof for that method and URL (with ath, iat on the server's
  // clock and the origin's latest nonce). Before any token is read, kUsage as fetch() for a URL
  // check_token_destination() refuses or a method that is not upper-case letters; errors as
  // access_token() otherwise, and kReloginRequired when a DPoP token's key is lost (never a
  // Bearer fallback).
  [[nodiscard]] Result<RequestCredentials> request_credentials(std::string_view method, std::string_view url,
                                                               long long min_ttl = 60);
  // Learns from the answer to a request sent with request_credentials()' DPoP proof: keeps the
  // DPoP-Nonce it carries for later proofs to its origin (RFC 9449 §8.2, §9), and returns true
  // when the answer asks for the request once more with that nonce (a resource server's 401 with
  // error="use_dpop_nonce"): make new credentials and send it again, once. kServer when such a
  // challenge carries no valid nonce or is malformed.
  [[nodiscard]] Result<bool> learn_from_response(std::string_view url, const HttpResponse& response);
  // The profile, its store and the stored set's safe view, including whether the stored tokens
  // are bound to this profile's server and client. kNotLoggedIn when the profile was never saved.
  [[nodiscard]] Result<SessionStatus> status();
  // Removes the saved profile (not the tokens: logout() first); true when one existed.
  [[nodiscard]] Result<bool> forget();

  [[nodiscard]] const Profile& profile() const;
  // The profile's token store (for a profile that was never saved, one whose every call fails
  // with the reason).
  [[nodiscard]] TokenStore& store();

 private:
  explicit Session(std::unique_ptr<session::Engine> engine);
  std::unique_ptr<session::Engine> engine_;
};

}  // namespace devicelogin
