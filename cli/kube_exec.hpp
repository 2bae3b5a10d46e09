#pragma once
// kubectl's exec credential plugin protocol (client-go, "client-go credential plugins"), without
// I/O: what `devicelogin kubectl-credential` reads from KUBERNETES_EXEC_INFO and the
// ExecCredential it prints. std, nlohmann::json and Secret only (no Session, no src/), so that
// the `devicelogin` executable can answer with a fresh token without the command module.
//
// The protocol, as kubectl speaks it:
//  - kubectl runs the plugin with KUBERNETES_EXEC_INFO set to an ExecCredential whose apiVersion
//    is the one the kubeconfig's exec entry names (client.authentication.k8s.io/v1 or v1beta1)
//    and whose spec says whether stdin is a terminal the plugin may use (spec.interactive) and,
//    with provideClusterInfo, which cluster it talks to (spec.cluster). Older clients did not
//    set the variable; then v1 is assumed.
//  - The plugin prints an ExecCredential of the same apiVersion with status.token and, when the
//    token's expiry is known, status.expirationTimestamp (RFC 3339, UTC); kubectl reuses the
//    token until then, and runs the plugin again after a 401.
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/secret.hpp"

namespace devicelogin::cli {

inline constexpr std::string_view kKubeApiV1 = "client.authentication.k8s.io/v1";
inline constexpr std::string_view kKubeApiV1beta1 = "client.authentication.k8s.io/v1beta1";
// The largest KUBERNETES_EXEC_INFO read (it may carry a cluster's CA bundle).
inline constexpr std::size_t kKubeMaxExecInfo = 1024 * 1024;
// 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
inline constexpr long long kKubeLatestTimestamp = 253402300799;

struct KubeExecInfo {
  std::string api_version;  // kKubeApiV1 or kKubeApiV1beta1
  bool interactive = false;
};

// Reads KUBERNETES_EXEC_INFO's value (`value` null: the variable is not set, which gives v1).
// A one-line message naming what is wrong for a value that is not a JSON object, is larger than
// kKubeMaxExecInfo, names another kind than ExecCredential, names no or an unsupported
// apiVersion, or whose spec (or spec.interactive) has the wrong type.
[[nodiscard]] std::expected<KubeExecInfo, std::string> parse_kube_exec_info(const char* value);

// The ExecCredential kubectl reads, and a newline:
// {"apiVersion":V,"kind":"ExecCredential","status":{"expirationTimestamp":T,"token":TOKEN}}
// (expirationTimestamp only when `expires_at`, Unix seconds, is known and within 1970..9999), strings escaped as Go's
// encoding/json writes them.
[[nodiscard]] Secret format_exec_credential(std::string_view api_version, std::string_view token,
                                            std::optional<long long> expires_at);

// `seconds` (Unix time) as RFC 3339 in UTC: "2026-12-06T08:05:00Z".
[[nodiscard]] std::string rfc3339_utc(long long seconds);

}  // namespace devicelogin::cli
