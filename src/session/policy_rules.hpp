#pragma once
// What the machine policy (devicelogin/policy.hpp) means for a session: which logins it allows,
// which stored sessions may still hand out tokens, and when a session has ended by age or
// idleness. Internal to the session module.
#include <optional>
#include <string>

#include "devicelogin/policy.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/session.hpp"
#include "devicelogin/token_set.hpp"

namespace devicelogin::session {

// Before any request of a login with `settings`: an issuer or store named directly that the policy
// does not allow, or DPoP turned off where it is required. kConfig naming the policy file.
[[nodiscard]] Result<void> check_login_settings(const Policy& policy, const LoginSettings& settings);
// The prepared profile of a login, before the device authorization request: issuer, client, every
// requested scope, explicit endpoints on the issuer's origin, store, DPoP, revocation, API URLs.
[[nodiscard]] Result<void> check_login_profile(const Policy& policy, const Profile& profile);
// Whether a saved profile may still hand out tokens: its issuer, client, store and DPoP.
[[nodiscard]] Result<void> check_hand_out(const Policy& policy, const Profile& profile);
// Whether the policy lets a token go to `url`'s origin (api_origins).
[[nodiscard]] Result<void> check_api_origin(const Policy& policy, std::string_view url);

// When the session began: the login's time, or (a set stored before that was recorded) when the
// tokens were obtained.
[[nodiscard]] long long signed_in_at(const TokenSet& tokens);
// The policy's limits on a session, as unix times (nullopt: no limit).
struct SessionLimits {
  std::optional<long long> ends_at;       // max_session_hours after the login
  std::optional<long long> idle_ends_at;  // idle_hours after the last use
  std::optional<long long> idle_limit_s;
};
[[nodiscard]] SessionLimits session_limits(const Policy& policy, const TokenSet& tokens, std::optional<long long> last_use);
// Why the session has ended at `now` (one sentence), or empty while it has not.
[[nodiscard]] std::string session_ended(const Policy& policy, const SessionLimits& limits, long long now);

// The last time a token of `profile` was handed out, as recorded by note_use (nullopt: never).
[[nodiscard]] std::optional<long long> last_use(const std::string& profile);
// Records a hand-out now: the mtime of a private file in the state directory (one utimensat on
// the hot path, and only when the policy has an idle limit). Best effort.
void note_use(const std::string& profile);
// Forgets the record (logout, a session ended).
void forget_use(const std::string& profile);

}  // namespace devicelogin::session
