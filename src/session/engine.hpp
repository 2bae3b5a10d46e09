#pragma once
// session::Engine: what a Session is. One profile bound to its token store, an HTTP client that
// learns the server's clock, a clock, and the profile store it is saved in; the facade's calls
// (include/devicelogin/session.hpp) are its methods. Internal to the session module.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/advanced/profile_store.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/policy.hpp"
#include "devicelogin/session.hpp"
#include "http/server_time.hpp"
#include "oauth/dpop.hpp"
#include "oauth/oauth_client.hpp"
#include "oauth/wire.hpp"

namespace devicelogin::session {

// The HTTP client a session uses: the options' one, or a libcurl one with `ca_file`.
[[nodiscard]] std::shared_ptr<HttpClient> http_for(const SessionOptions& options, const std::string& ca_file);
// The profile store the options name, or the one the environment gives.
[[nodiscard]] Result<ProfileStore> profile_store_for(const SessionOptions& options);

class Engine {
 public:
  // The engine of profile `name` as Session::open describes it: kUsage for an invalid name, the
  // profile directory's error when it is unusable; a profile that is missing or unreadable, or
  // whose store cannot be opened, makes an engine whose calls report that.
  [[nodiscard]] static Result<std::unique_ptr<Engine>> open(const std::string& name, SessionOptions options);

  // An engine over `profile` and its store, or, when `store` is an error, over no usable profile:
  // every call that needs one fails with that error, and store() answers with it. `saved`: the
  // profile is the one saved in `profiles` (a sign-in with no settings starts from it).
  Engine(Profile profile, Result<std::unique_ptr<TokenStore>> store, std::shared_ptr<HttpClient> http,
         std::shared_ptr<Clock> clock, ProfileStore profiles, SessionOptions options, bool saved);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();

  // The profile's flow (device, browser, or auto choosing between them) with the profile as it is, and the tokens stored (Session::login, after the
  // profile was prepared); the profile, with the JWKS cache and clock offset it learned, is not
  // saved here.
  [[nodiscard]] Result<TokenInfo> login(const LoginObserver& observer);
  // What a login of this engine needs beyond the profile (LoginSettings::local_browser,
  // browser_timeout_s).
  void set_login_options(std::optional<bool> local_browser, long long browser_timeout_s) {
    local_browser_ = local_browser;
    browser_timeout_s_ = browser_timeout_s;
  }
  // A whole sign-in (Session::login with settings): on success, the engine the session goes on
  // with, its profile saved; this engine is left as it was.
  struct SignedIn {
    TokenInfo info;
    std::unique_ptr<Engine> engine;
  };
  [[nodiscard]] Result<SignedIn> sign_in(const LoginSettings& requested, const LoginObserver& observer);

  [[nodiscard]] Result<AccessToken> access_token(long long min_ttl);
  [[nodiscard]] Result<void> check_token_destination(std::string_view url) const;
  // The profile's own rule alone (its API base URLs and userinfo endpoint), without the policy.
  [[nodiscard]] Result<void> check_profile_destination(std::string_view url) const;
  [[nodiscard]] Result<HttpResponse> fetch(HttpRequest request, long long min_ttl);
  [[nodiscard]] Result<RequestCredentials> request_credentials(std::string_view method, std::string_view url,
                                                               long long min_ttl);
  [[nodiscard]] Result<bool> learn_from_response(std::string_view url, const HttpResponse& response);
  [[nodiscard]] Result<TokenInfo> refresh();
  [[nodiscard]] Result<LogoutOutcome> logout();
  [[nodiscard]] Result<LogoutOutcome> logout_from(TokenStore& other);
  [[nodiscard]] Result<SessionStatus> status();
  [[nodiscard]] Result<bool> forget();

  [[nodiscard]] const Profile& profile() const { return profile_; }
  [[nodiscard]] TokenStore& store() { return *store_; }

  // Held across load -> refresh -> save, so that of many racing processes one refreshes and the
  // others reuse its result (refresh-token rotation would otherwise revoke the grant).
  static constexpr std::chrono::milliseconds kLockTimeout{30'000};

 private:
  [[nodiscard]] long long now() const;
  // The tokens of the flow the profile names (auto: chosen, and changed once when the device flow
  // is refused as turned off); `nonce` receives the nonce the ID token must carry, if any.
  [[nodiscard]] Result<oauth::TokenReply> obtain_tokens(oauth::OAuthClient& client, const oauth::DpopKey* dpop_key,
                                                        const LoginObserver& observer, std::string& nonce);
  // RFC 8628: device code, the user's approval elsewhere, polls.
  [[nodiscard]] Result<oauth::TokenReply> device_tokens(oauth::OAuthClient& client, const LoginObserver& observer);
  // RFC 8252 + RFC 7636: the browser on this machine, a loopback redirect, the code exchanged.
  [[nodiscard]] Result<oauth::TokenReply> browser_tokens(oauth::OAuthClient& client, const oauth::DpopKey* dpop_key,
                                                         const LoginObserver& observer, std::string& nonce);
  // Whether auto may count on a browser on this machine.
  [[nodiscard]] bool local_browser() const;
  // "Now" on the server's clock, for judging times the server issued (ID token iat, exp, nbf).
  [[nodiscard]] long long server_now() const { return http_.server_now(); }
  // A JWT `exp` is a time on the server's clock; stored expiries are on the local clock.
  void adopt_server_times(oauth::TokenReply& reply) const;
  [[nodiscard]] Result<StoreLock> lock();
  [[nodiscard]] Error not_logged_in() const;
  // kReloginRequired: sign in again for this profile.
  [[nodiscard]] std::unexpected<Error> relogin(std::string message, std::string oauth_error = {}, int http_status = 0) const;
  [[nodiscard]] Result<TokenSet> load_required();
  // Records where `tokens` may be sent back: this profile's token endpoint and client.
  void bind(TokenSet& tokens) const;
  // Why `tokens` must not be used with this profile's server, or empty when they may be.
  [[nodiscard]] std::string bound_elsewhere(const TokenSet& tokens) const;
  [[nodiscard]] Error relogin_elsewhere(const std::string& elsewhere) const;
  // Saves a set the server has just issued.
  [[nodiscard]] Result<void> save_issued(const TokenSet& tokens);
  // RFC 7009 revocation of `tokens` at this profile's server; never fails (see revocation_problem).
  // A DPoP-bound set is revoked with proofs of `key`, or of its stored key when `key` is null.
  [[nodiscard]] LogoutOutcome revoke(const TokenSet& tokens, const oauth::DpopKey* key = nullptr);
  // RFC 6749 §6 refresh of `current`, stored before it is returned.
  [[nodiscard]] Result<TokenSet> refresh_set(TokenSet current);
  [[nodiscard]] Result<TokenSet> refresh_set_unaudited(TokenSet current);
  [[nodiscard]] Result<TokenInfo> login_unaudited(const LoginObserver& observer);
  // logout() of the set in `from` (this profile's store, or another one).
  [[nodiscard]] Result<LogoutOutcome> logout_of(TokenStore& from);
  // A valid set (access_token()'s rules), refreshed first when it expires within min_ttl.
  // `refreshed`, when given, says whether this call refreshed.
  [[nodiscard]] Result<TokenSet> valid_tokens(long long min_ttl, bool* refreshed = nullptr);
  // Records an event of this profile in the audit trail (store/audit.hpp), naming the options'
  // consumer; `detail` empty: the options' detail.
  void audit(std::string event, const Secret* token, bool refreshed, const Error* error, std::string detail = {}) const;
  // `allowed`, a machine policy check: its refusal recorded as a "refusal" event (detail "machine
  // policy", the reason, never a token).
  [[nodiscard]] Result<void> audited_policy(Result<void> allowed) const;
  // The DPoP key a DPoP token of `tokens` is used with; nullopt for a token of another type.
  // kReloginRequired when a DPoP token has no key, or one that cannot be read: never a fallback
  // to sending it as a Bearer token.
  // The key is parsed once per stored key and kept (dpop_key_cache_), not on every request.
  [[nodiscard]] Result<std::shared_ptr<const oauth::DpopKey>> dpop_key_of(const TokenSet& tokens) const;
  // The headers that present `tokens` on a `method` request to `url`: Authorization, and with
  // `dpop_key` (the key of a DPoP token; null for another type) a fresh proof with ath, iat on the
  // server's clock and the origin's latest nonce (RFC 9449 §4.2, §7.1).
  [[nodiscard]] Result<RequestCredentials> credentials_for(const TokenSet& tokens, const oauth::DpopKey* dpop_key,
                                                           std::string_view method, std::string_view url) const;
  // token_info(), with the thumbprint of the key a DPoP token is bound to.
  [[nodiscard]] TokenInfo info_of(const TokenSet& tokens) const;
  // The machine policy's session limits: when the session of `tokens` has ended (by age or by
  // idleness), its tokens are revoked and deleted and the error says why (kReloginRequired).
  [[nodiscard]] Result<void> end_if_over_limits(const TokenSet& tokens);
  // The last recorded use, read only when the policy has an idle limit.
  [[nodiscard]] std::optional<long long> last_use_if_limited() const;

  Profile profile_;
  // Why there is no usable profile (never saved, unreadable, or its store cannot be opened); the
  // one place that says so. store_ is then a placeholder that answers every call with it.
  std::optional<Error> unusable_;
  // Whether the last valid_tokens() was refused by the machine policy (recorded then as a refusal,
  // so that the caller does not record a failed hand-out as well).
  bool refused_by_policy_ = false;
  // Why the machine policy's age or idle limit ended the session, while end_if_over_limits() logs
  // it out: the logout record says so.
  std::string ended_by_policy_;
  std::unique_ptr<TokenStore> store_;
  std::shared_ptr<HttpClient> http_owner_;
  std::shared_ptr<Clock> clock_;
  // Every request goes through it, so that the server's clock is learned from each answer.
  http::ServerClockObserver http_;
  ProfileStore profiles_;
  SessionOptions options_;
  // The profile as saved (when it was): a sign-in with no settings starts from it, and the one
  // after a sign-in with settings cleans up after it.
  std::optional<Profile> saved_profile_;
  // During a sign-in: the profile signed in before, whose server revokes a replaced set it issued.
  std::optional<Profile> previous_profile_;
  // The machine policy (load_machine_policy), read when the session was opened.
  Policy policy_;
  // The servers' latest DPoP nonces, per origin (RFC 9449 §8.2, §9).
  oauth::DpopNonceCache dpop_nonces_;
  // The last DPoP key dpop_key_of() parsed, with its stored form to recognize it by. Parsing
  // (OpenSSL's key import and the public-part check) costs more than the proof it signs. Both
  // wipe their private part when replaced or destroyed (Secret; OpenSSL clears key material on free).
  struct CachedDpopKey {
    Secret serialized;
    std::shared_ptr<const oauth::DpopKey> key;
  };
  mutable std::optional<CachedDpopKey> dpop_key_cache_;
  std::optional<bool> local_browser_;
  long long browser_timeout_s_ = 300;
};

}  // namespace devicelogin::session
