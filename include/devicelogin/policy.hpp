#pragma once
// The machine policy: what an administrator allows on this machine (issuers, stores, session
// limits, DPoP, revocation, helpers, API origins, audit), read from one root-owned file whose path
// is fixed when the library is built. Sessions obey it; a program renders it (docs/policy.md).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/export.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin {

// One issuer the policy allows, with the clients and scopes that may be used with it (an empty
// list: any).
struct PolicyIssuer {
  std::string issuer;
  std::vector<std::string> client_ids;
  std::vector<std::string> scopes;
};

// The `audit` key: whether hand-outs are recorded (on unless it says "enabled": false), and also
// sent to the systemd journal.
struct PolicyAudit {
  bool enabled = true;
  bool journal = false;
};

// The effective machine policy. A key the file does not set is nullopt (or false): no limit.
struct Policy {
  std::string path;      // where it is read from (fixed at build time)
  bool present = false;  // false: no file there, nothing is limited
  std::optional<std::vector<PolicyIssuer>> issuers;
  std::optional<std::vector<std::string>> stores;
  std::optional<double> max_session_hours;  // from the login, whatever refresh could do
  std::optional<double> idle_hours;         // since the last hand-out of a token
  bool require_dpop = false;
  bool require_revocation = false;
  std::optional<std::vector<std::string>> helpers;      // of: exec, api, git, docker, kubectl, agent
  std::optional<std::vector<std::string>> api_origins;  // patterns: '*' matches any run of characters but '/'
  std::optional<PolicyAudit> audit;
};

// The helpers the `helpers` key may name ("agent": the token agent's hand-outs to remote hosts).
inline constexpr std::string_view kPolicyHelperNames[] = {"exec", "api", "git", "docker", "kubectl", "agent"};
// The largest policy file read, and how deep its JSON may nest.
inline constexpr std::size_t kMaxPolicyBytes = 64 * 1024;
inline constexpr int kMaxPolicyDepth = 4;

// The path the machine policy is read from (fixed at build time; nothing at run time moves it).
[[nodiscard]] DEVICELOGIN_API std::string machine_policy_path();

// Parses a policy document (`path` is only used in messages). kConfig naming the file and the key
// for text that is not JSON, an unknown key, a wrong type, nesting deeper than kMaxPolicyDepth or
// more than kMaxPolicyBytes.
[[nodiscard]] DEVICELOGIN_API Result<Policy> parse_policy(std::string_view text, const std::string& path);

// Reads the policy at `path`: an absent file is no policy (present = false). It is honoured only
// when it and every directory above it are owned by root and not writable by group or others, and
// it is a regular file reached without a symbolic link; otherwise (and when it cannot be read or
// does not parse) kConfig naming the file and the problem.
[[nodiscard]] DEVICELOGIN_API Result<Policy> load_policy_file(const std::string& path);

// load_policy_file(machine_policy_path()).
[[nodiscard]] DEVICELOGIN_API Result<Policy> load_machine_policy();

// True when `origin` ("https://api.example.com", or a URL whose origin is taken) matches the glob
// `pattern` ('*' matches any run of characters other than '/').
[[nodiscard]] DEVICELOGIN_API bool policy_origin_matches(std::string_view pattern, std::string_view origin);

// Succeeds when the policy lets `helper` (one of kPolicyHelperNames) hand out tokens; kConfig
// naming the policy file otherwise.
[[nodiscard]] DEVICELOGIN_API Result<void> check_policy_helper(const Policy& policy, std::string_view helper);

}  // namespace devicelogin
