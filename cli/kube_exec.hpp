#pragma once
// kubectl's exec credential plugin protocol (client-go, "client-go credential plugins"), without
// I/O: what `devicelogin kubectl-credential` reads from KUBERNETES_EXEC_INFO and the
// ExecCredential it prints. std, nlohmann::json and Secret only (no Session, no src/), so that
// the `devicelogin` executable can answer with a fresh token without the full CLI.
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
//
// The destination rule: kubectl hands the plugin's token to whatever server it is about
// to talk to, `kubectl --server https://other …` included. So setup-kubectl records the cluster's
// server, certificate authority, TLS server name and insecure-skip-tls-verify in the exec entry's
// own arguments (the user entry, which `kubectl config set-cluster` does not touch), and asks for
// provideClusterInfo; the plugin gives the token only when spec.cluster says the same
// (check_kube_destination). The `devicelogin` executable's fast path and the full CLI call the
// same function.
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

// A cluster as client-go describes it to the plugin (spec.cluster), or as setup-kubectl recorded it.
struct KubeCluster {
  std::string server;                      // as written (normalize_kube_server compares them)
  std::string certificate_authority_data;  // base64, as kubectl writes it; empty: none (the system's roots)
  std::string tls_server_name;             // empty: none
  bool insecure_skip_tls_verify = false;
  bool operator==(const KubeCluster&) const = default;
};

struct KubeExecInfo {
  std::string api_version;  // kKubeApiV1 or kKubeApiV1beta1
  bool interactive = false;
  std::optional<KubeCluster> cluster;  // spec.cluster, given when the exec entry has provideClusterInfo
};

// Reads KUBERNETES_EXEC_INFO's value (`value` null: the variable is not set, which gives v1).
// A one-line message naming what is wrong for a value that is not a JSON object, is larger than
// kKubeMaxExecInfo, names another kind than ExecCredential, names no or an unsupported
// apiVersion, or whose spec (or spec.interactive, or spec.cluster and its server,
// certificate-authority-data, tls-server-name and insecure-skip-tls-verify) has the wrong type; a
// spec.cluster without a server, or whose certificate-authority-data is not base64, is refused too.
[[nodiscard]] std::expected<KubeExecInfo, std::string> parse_kube_exec_info(const char* value);

// `server` (a kubeconfig cluster's server URL) in the one form two URLs naming the same server share:
// "SCHEME://HOST:PORT/PATH" with the scheme and host in lower case, the port written out (443 for
// https, 80 for http) and trailing '/' of the path removed. nullopt for anything but an http(s) URL
// with a host: another scheme, none, user:password@, a query or fragment, an invalid host or port,
// whitespace, control or non-ASCII characters.
[[nodiscard]] std::optional<std::string> normalize_kube_server(std::string_view server);

// Whether the token may go where kubectl is about to send it: `presented` is spec.cluster (nullopt:
// kubectl gave none), `recorded` what setup-kubectl wrote into the plugin's arguments (nullopt: no
// --server there). Succeeds only when both exist, the servers normalise to the same URL, the
// certificate authority data and TLS server name are the same (none on both sides included), and
// TLS verification is skipped only when that was recorded. Otherwise a one-line message (server
// names shown sanitised, never more than 200 characters of one) saying what differs.
[[nodiscard]] std::expected<void, std::string> check_kube_destination(const std::optional<KubeCluster>& presented,
                                                                      const std::optional<KubeCluster>& recorded);

// The ExecCredential kubectl reads, and a newline:
// {"apiVersion":V,"kind":"ExecCredential","status":{"expirationTimestamp":T,"token":TOKEN}}
// (expirationTimestamp only when `expires_at`, Unix seconds, is known and within 1970..9999), strings escaped as Go's
// encoding/json writes them.
[[nodiscard]] Secret format_exec_credential(std::string_view api_version, std::string_view token,
                                            std::optional<long long> expires_at);

// `seconds` (Unix time) as RFC 3339 in UTC: "2026-12-06T08:05:00Z".
[[nodiscard]] std::string rfc3339_utc(long long seconds);

}  // namespace devicelogin::cli
