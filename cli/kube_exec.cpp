#include "kube_exec.hpp"

#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

#include "docker_protocol.hpp"  // append_docker_json_string: Go's encoding/json escaping, which kubectl reads
#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli {

std::expected<KubeExecInfo, std::string> parse_kube_exec_info(const char* value) {
  constexpr std::string_view kWhat = "KUBERNETES_EXEC_INFO";
  if (value == nullptr) return KubeExecInfo{std::string(kKubeApiV1), false};
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
  KubeExecInfo info{version, false};
  if (auto spec = doc.find("spec"); spec != doc.end()) {
    if (!spec->is_object()) return std::unexpected(std::string(kWhat) + "'s spec is not an object");
    if (auto interactive = spec->find("interactive"); interactive != spec->end()) {
      if (!interactive->is_boolean()) return std::unexpected(std::string(kWhat) + "'s spec.interactive is not a boolean");
      info.interactive = interactive->get<bool>();
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
