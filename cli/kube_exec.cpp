#include "kube_exec.hpp"

#include "helpers/shown.hpp"

#include <cstring>
#include <ctime>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "docker_protocol.hpp"  // append_docker_json_string: Go's encoding/json escaping, which kubectl reads
#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli {
namespace {

constexpr std::string_view kWhat = "KUBERNETES_EXEC_INFO";

bool base64_text(std::string_view text) {
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!ok) return false;
  }
  return true;
}

// spec.cluster's members (client-go's clientauthentication Cluster, JSON names); null is absent.
std::expected<KubeCluster, std::string> parse_cluster(const nlohmann::json& cluster) {
  const std::string where = std::string(kWhat) + "'s spec.cluster";
  if (!cluster.is_object()) return std::unexpected(where + " is not an object");
  KubeCluster parsed;
  auto text = [&](const char* name, std::string& out) -> std::optional<std::string> {
    const auto member = cluster.find(name);
    if (member == cluster.end() || member->is_null()) return std::nullopt;
    if (!member->is_string()) return where + "." + name + " is not a string";
    out = member->get<std::string>();
    return std::nullopt;
  };
  for (auto [name, out] : {std::pair{"server", &parsed.server}, std::pair{"certificate-authority-data", &parsed.certificate_authority_data},
                           std::pair{"tls-server-name", &parsed.tls_server_name}}) {
    if (auto problem = text(name, *out)) return std::unexpected(*problem);
  }
  if (parsed.server.empty()) return std::unexpected(where + " names no server");
  if (!base64_text(parsed.certificate_authority_data)) return std::unexpected(where + ".certificate-authority-data is not base64");
  if (const auto insecure = cluster.find("insecure-skip-tls-verify"); insecure != cluster.end() && !insecure->is_null()) {
    if (!insecure->is_boolean()) return std::unexpected(where + ".insecure-skip-tls-verify is not a boolean");
    parsed.insecure_skip_tls_verify = insecure->get<bool>();
  }
  return parsed;
}

// A server as a message shows it: sanitised, at most 200 characters.
std::string shown(std::string_view server) { return shown_word(server, 200); }

}  // namespace

std::optional<std::string> normalize_kube_server(std::string_view server) {
  for (char c : server) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) return std::nullopt;
  }
  const std::size_t scheme_end = server.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  std::string scheme(server.substr(0, scheme_end));
  for (char& c : scheme) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::string_view default_port;
  if (scheme == "https") {
    default_port = "443";
  } else if (scheme == "http") {
    default_port = "80";
  } else {
    return std::nullopt;
  }
  std::string_view rest = server.substr(scheme_end + 3);
  const std::size_t authority_end = rest.find_first_of("/?#");
  std::string authority(rest.substr(0, authority_end));
  std::string_view path = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (path.find_first_of("?#") != std::string_view::npos) return std::nullopt;
  while (path.ends_with('/')) path.remove_suffix(1);
  if (authority.empty() || authority.find('@') != std::string::npos) return std::nullopt;
  for (char& c : authority) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  std::string_view host = authority;
  std::string_view port_text;
  if (host.front() == '[') {
    // An IPv6 literal: [hex:...] (an IPv4 tail allowed; no zone), then an optional :port.
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    for (char c : host.substr(1, close - 1)) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.')) return std::nullopt;
    }
    const std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
    host = host.substr(0, close + 1);
  } else {
    if (const std::size_t colon = host.find(':'); colon != std::string_view::npos) {
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (!valid_lower_host_name(host, true)) return std::nullopt;
  }
  unsigned port = 0;
  if (port_text.empty() && authority.back() == ':') return std::nullopt;  // "host:" names no port
  if (!parse_port(port_text.empty() ? default_port : port_text, port)) return std::nullopt;
  return scheme + "://" + std::string(host) + ":" + std::to_string(port) + std::string(path);
}

std::expected<void, std::string> check_kube_destination(const std::optional<KubeCluster>& presented,
                                                        const std::optional<KubeCluster>& recorded) {
  // Refusals say what to do: the record is setup-kubectl's to write.
  constexpr std::string_view kAgain = "run devicelogin setup-kubectl --cluster NAME again if the cluster really changed";
  if (!recorded || recorded->server.empty()) {
    return std::unexpected(
        "this kubeconfig user records no cluster server (--server), so the token would go to any server; run "
        "devicelogin setup-kubectl --cluster NAME again to record it");
  }
  const auto expected = normalize_kube_server(recorded->server);
  if (!expected) return std::unexpected("the recorded server \"" + shown(recorded->server) + "\" is not an http(s) URL; " + std::string(kAgain));
  if (!presented) {
    return std::unexpected(std::string(kWhat) +
                           " names no spec.cluster, so kubectl did not say which server gets the token (the kubeconfig "
                           "user needs provideClusterInfo: true; run devicelogin setup-kubectl --cluster NAME again)");
  }
  const auto actual = normalize_kube_server(presented->server);
  if (actual != expected) {
    return std::unexpected("kubectl is about to send the token to " + shown(presented->server) + ", not to " + *expected +
                           " that setup-kubectl recorded; the token is not given (" + std::string(kAgain) + ")");
  }
  if (presented->certificate_authority_data != recorded->certificate_authority_data) {
    return std::unexpected("kubectl is about to trust another certificate authority for " + *expected +
                           " than setup-kubectl recorded; the token is not given (" + std::string(kAgain) + ")");
  }
  if (presented->tls_server_name != recorded->tls_server_name) {
    return std::unexpected("kubectl is about to check another TLS server name (\"" + shown(presented->tls_server_name) +
                           "\") for " + *expected + " than setup-kubectl recorded; the token is not given (" + std::string(kAgain) + ")");
  }
  if (presented->insecure_skip_tls_verify && !recorded->insecure_skip_tls_verify) {
    return std::unexpected("kubectl is about to skip TLS verification for " + *expected +
                           ", which setup-kubectl did not record; the token is not given");
  }
  return {};
}

std::expected<KubeExecInfo, std::string> parse_kube_exec_info(const char* value) {
  if (value == nullptr) return KubeExecInfo{std::string(kKubeApiV1), false, std::nullopt};
  const std::size_t length = ::strnlen(value, kKubeMaxExecInfo + 1);
  if (length > kKubeMaxExecInfo) {
    return std::unexpected(std::string(kWhat) + " is larger than " + std::to_string(kKubeMaxExecInfo / 1024) + " KiB");
  }
  const std::string_view text(value, length);
  if (!json_nesting_within(text)) {
    return std::unexpected(std::string(kWhat) + " nests arrays or objects more than " + std::to_string(kMaxJsonNesting) +
                           " levels deep");
  }
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::unexpected(std::string(kWhat) + " is not a JSON object");
  if (auto kind = doc.find("kind"); kind != doc.end() && !(kind->is_string() && *kind == "ExecCredential")) {
    return std::unexpected(std::string(kWhat) + " is not an ExecCredential (\"kind\")");
  }
  const auto api = doc.find("apiVersion");
  if (api == doc.end() || !api->is_string()) return std::unexpected(std::string(kWhat) + " names no apiVersion");
  const auto& version = api->get_ref<const std::string&>();
  if (version != kKubeApiV1 && version != kKubeApiV1beta1) {
    std::string shown;
    for (char c : version.substr(0, 80)) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
    return std::unexpected(std::string(kWhat) + " names apiVersion \"" + shown + "\" (supported: " +
                           std::string(kKubeApiV1) + ", " + std::string(kKubeApiV1beta1) + ")");
  }
  KubeExecInfo info{version, false, std::nullopt};
  if (auto spec = doc.find("spec"); spec != doc.end()) {
    if (!spec->is_object()) return std::unexpected(std::string(kWhat) + "'s spec is not an object");
    if (auto interactive = spec->find("interactive"); interactive != spec->end()) {
      if (!interactive->is_boolean()) return std::unexpected(std::string(kWhat) + "'s spec.interactive is not a boolean");
      info.interactive = interactive->get<bool>();
    }
    if (auto cluster = spec->find("cluster"); cluster != spec->end() && !cluster->is_null()) {
      auto parsed = parse_cluster(*cluster);
      if (!parsed) return std::unexpected(parsed.error());
      info.cluster = std::move(*parsed);
    }
  }
  return info;
}

std::string rfc3339_utc(long long seconds) {
  const std::time_t when = static_cast<std::time_t>(seconds);
  std::tm utc{};
  if (::gmtime_r(&when, &utc) == nullptr) return "1970-01-01T00:00:00Z";
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return n == 0 ? std::string("1970-01-01T00:00:00Z") : std::string(text, n);
}

Secret format_exec_credential(std::string_view api_version, std::string_view token, std::optional<long long> expires_at) {
  Secret out;
  // Room for the worst case (every byte escaped as \u00XX), so that the buffer never moves.
  out.reserve(128 + 6 * (api_version.size() + token.size()));
  out.append("{\"apiVersion\":");
  append_docker_json_string(out, api_version);
  out.append(",\"kind\":\"ExecCredential\",\"status\":{");
  // RFC 3339 has four-digit years: an expiry outside 1970..9999 is left out (kubectl then asks
  // again on every run, which is safe).
  if (expires_at && *expires_at >= 0 && *expires_at <= kKubeLatestTimestamp) {
    out.append("\"expirationTimestamp\":\"" + rfc3339_utc(*expires_at) + "\",");
  }
  out.append("\"token\":");
  append_docker_json_string(out, token);
  out.append("}}\n");
  return out;
}

}  // namespace devicelogin::cli
