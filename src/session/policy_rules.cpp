#include "session/policy_rules.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/fs.hpp"
#include "core/redaction.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/sanitize.hpp"
#include "http/url_policy.hpp"
#include "oauth/providers.hpp"

namespace devicelogin::session {
namespace {

// A refusal by the policy: kConfig (exit 2 in the CLI), naming the file, with what it allows.
std::unexpected<Error> refused(const Policy& policy, std::string what, std::string setting = {}) {
  Error error = remedy_error(ErrorCode::kConfig, "refused by the machine policy " + policy.path + ": " + std::move(what),
                             setting.empty() ? Remedy::kNone : Remedy::kFixSettings, {}, std::move(setting));
  return std::unexpected(std::move(error));
}

std::string joined(const std::vector<std::string>& items) {
  if (items.empty()) return "none";
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

bool contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// Issuers compare as RFC 8414 §3 says (exactly), but a trailing '/' is not a difference an
// administrator should have to spell twice.
std::string_view without_trailing_slash(std::string_view issuer) {
  while (issuer.size() > 1 && issuer.back() == '/') issuer.remove_suffix(1);
  return issuer;
}

const PolicyIssuer* allowed_issuer(const Policy& policy, std::string_view issuer) {
  for (const PolicyIssuer& allowed : *policy.issuers) {
    if (without_trailing_slash(allowed.issuer) == without_trailing_slash(issuer)) return &allowed;
  }
  return nullptr;
}

std::vector<std::string> issuer_names(const Policy& policy) {
  std::vector<std::string> names;
  for (const PolicyIssuer& allowed : *policy.issuers) names.push_back(allowed.issuer);
  return names;
}

Result<void> check_issuer(const Policy& policy, std::string_view issuer) {
  if (!policy.issuers) return {};
  if (issuer.empty()) return refused(policy, "a login must name an issuer (allowed: " + joined(issuer_names(policy)) + ")", "issuer");
  if (allowed_issuer(policy, issuer) == nullptr) {
    return refused(policy, "issuer " + sanitize_text(core::redact_url(std::string(issuer))) +
                               " is not allowed (allowed: " + joined(issuer_names(policy)) + ")", "issuer");
  }
  return {};
}

Result<void> check_store(const Policy& policy, const std::string& store) {
  if (!policy.stores || store.empty() || store == "auto" || contains(*policy.stores, store)) return {};
  Error error = remedy_error(ErrorCode::kConfig, "refused by the machine policy " + policy.path + ": token store \"" +
                                                     sanitize_text(store) + "\" is not allowed (allowed: " +
                                                     joined(*policy.stores) + ")",
                             Remedy::kChooseStore, {}, policy.stores->empty() ? std::string() : policy.stores->front());
  return std::unexpected(std::move(error));
}

Result<void> check_client(const Policy& policy, const Profile& profile) {
  if (!policy.issuers) return {};
  const PolicyIssuer* allowed = allowed_issuer(policy, profile.issuer);
  if (allowed == nullptr) return check_issuer(policy, profile.issuer);
  if (!allowed->client_ids.empty() && !contains(allowed->client_ids, profile.client_id)) {
    return refused(policy, "client \"" + sanitize_text(profile.client_id) + "\" is not allowed at " + allowed->issuer +
                               " (allowed: " + joined(allowed->client_ids) + ")", "client_id");
  }
  return {};
}

}  // namespace

Result<void> check_login_settings(const Policy& policy, const LoginSettings& settings) {
  if (!policy.present) return {};
  // Every endpoint a login may be given by hand, the browser flow's sign-in page and the keys the
  // ID token is checked with among them.
  const std::string* const given[] = {&settings.endpoints.device_authorization, &settings.endpoints.token,
                                      &settings.endpoints.revocation,          &settings.endpoints.userinfo,
                                      &settings.endpoints.jwks,                &settings.endpoints.authorization};
  const bool any_given = std::ranges::any_of(given, [](const std::string* endpoint) { return !endpoint->empty(); });
  if (policy.issuers && !settings.issuer.empty()) {
    if (auto allowed = check_issuer(policy, settings.issuer); !allowed) return allowed;
    // Endpoints given by hand must be the allowed issuer's own (same origin): otherwise the login
    // would happen elsewhere under an allowed name.
    const auto issuer_origin = http::url_origin(settings.issuer);
    for (const std::string* endpoint : given) {
      if (!endpoint->empty() && http::url_origin(*endpoint) != issuer_origin) {
        return refused(policy, "endpoint " + sanitize_text(core::redact_url(*endpoint)) + " is not on the issuer's origin", "endpoints");
      }
    }
  } else if (policy.issuers && any_given) {
    // Without --issuer the issuer is a preset's (or none): endpoints given by hand would replace
    // the preset's under its allowed name, so under a list of issuers they need --issuer.
    if (settings.provider.empty()) return check_issuer(policy, "");
    return refused(policy, "endpoints given by hand need the issuer named too (they must be on the allowed issuer's origin)", "endpoints");
  }
  if (auto store = check_store(policy, settings.store); !store) return store;
  if (policy.require_dpop && settings.dpop && !*settings.dpop) {
    return refused(policy, "tokens must be bound to a key (DPoP)", "dpop");
  }
  return {};
}

Result<void> check_login_profile(const Policy& policy, const Profile& profile) {
  if (!policy.present) return {};
  if (auto client = check_client(policy, profile); !client) return client;
  if (policy.issuers) {
    const PolicyIssuer* allowed = allowed_issuer(policy, profile.issuer);
    if (allowed != nullptr && !allowed->scopes.empty()) {
      std::istringstream words(profile.scope);
      for (std::string scope; words >> scope;) {
        if (!contains(allowed->scopes, scope)) {
          return refused(policy, "scope \"" + sanitize_text(scope) + "\" is not allowed at " + allowed->issuer +
                                     " (allowed: " + joined(allowed->scopes) + ")", "scope");
        }
      }
    }
  }
  if (auto store = check_store(policy, profile.store); !store) return store;
  if (policy.require_dpop && !profile.dpop) return refused(policy, "tokens must be bound to a key (DPoP)", "dpop");
  if (policy.require_revocation && profile.endpoints.revocation.empty() &&
      oauth::quirks_for(profile.provider).session_logout_path.empty()) {
    return refused(policy, "the server has no revocation endpoint, so a logout could not end the session");
  }
  for (const std::string& url : profile.api_urls) {
    if (auto origin = check_api_origin(policy, url); !origin) return origin;
  }
  return {};
}

Result<void> check_hand_out(const Policy& policy, const Profile& profile) {
  if (!policy.present) return {};
  if (auto client = check_client(policy, profile); !client) return client;
  if (auto store = check_store(policy, profile.store); !store) return store;
  if (policy.require_dpop && !profile.dpop) return refused(policy, "tokens must be bound to a key (DPoP)", "dpop");
  return {};
}

Result<void> check_api_origin(const Policy& policy, std::string_view url) {
  if (!policy.api_origins) return {};
  for (const std::string& pattern : *policy.api_origins) {
    if (policy_origin_matches(pattern, url)) return {};
  }
  const auto origin = http::url_origin(url);
  return refused(policy, "tokens may not be sent to " + sanitize_text(origin ? *origin : std::string("that URL")) +
                             " (allowed: " + joined(*policy.api_origins) + ")", "api_urls");
}

long long signed_in_at(const TokenSet& tokens) { return tokens.signed_in_at.value_or(tokens.obtained_at); }

SessionLimits session_limits(const Policy& policy, const TokenSet& tokens, std::optional<long long> last_use) {
  SessionLimits limits;
  const long long start = signed_in_at(tokens);
  if (policy.max_session_hours) limits.ends_at = start + std::llround(*policy.max_session_hours * 3600);
  if (policy.idle_hours) {
    limits.idle_limit_s = std::llround(*policy.idle_hours * 3600);
    limits.idle_ends_at = std::max(start, last_use.value_or(start)) + *limits.idle_limit_s;
  }
  return limits;
}

std::string session_ended(const Policy& policy, const SessionLimits& limits, long long now) {
  auto hours = [](double value) {
    std::ostringstream out;
    out << value;
    return out.str();
  };
  if (limits.ends_at && now >= *limits.ends_at) {
    return "the session ended: the machine policy " + policy.path + " limits a session to " +
           hours(*policy.max_session_hours) + " h from sign-in";
  }
  if (limits.idle_ends_at && now >= *limits.idle_ends_at) {
    return "the session ended: it was not used for " + hours(*policy.idle_hours) + " h, the machine policy " +
           policy.path + "'s idle limit";
  }
  return {};
}

namespace {
Result<std::string> use_directory() {
  auto state = default_state_directory();
  if (!state) return state;
  return *state + "/last-use";
}
}  // namespace

std::optional<long long> last_use(const std::string& profile) {
  auto directory = use_directory();
  if (!directory) return std::nullopt;
  struct stat info{};
  if (::stat((*directory + "/" + profile).c_str(), &info) != 0) return std::nullopt;
  return static_cast<long long>(info.st_mtim.tv_sec);
}

void note_use(const std::string& profile) {
  auto directory = use_directory();
  if (!directory) return;
  // The common case is one utimensat() on a file that exists; the directory and file are made
  // (private, never through a symlink) only the first time.
  if (::utimensat(AT_FDCWD, (*directory + "/" + profile).c_str(), nullptr, AT_SYMLINK_NOFOLLOW) == 0) return;
  auto opened = core::PrivateDirectory::open(*directory, true);
  if (!opened || !*opened) return;
  auto fd = (*opened)->open_lock_file(profile);
  if (!fd) return;
  (void)::futimens(*fd, nullptr);
  ::close(*fd);
}

void forget_use(const std::string& profile) {
  auto directory = use_directory();
  if (!directory) return;
  (void)core::remove_file(*directory + "/" + profile);
}

}  // namespace devicelogin::session
