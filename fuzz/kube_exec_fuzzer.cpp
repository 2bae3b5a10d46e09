// kubectl's exec credential plugin protocol (cli/kube_exec): KUBERNETES_EXEC_INFO as kubectl (or
// anyone who can set the plugin's environment) writes it, and the ExecCredential the plugin prints,
// which must be JSON that names the apiVersion asked for and carries the token unchanged.
#include <cctype>
#include <cstring>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_input.hpp"
#include "kube_exec.hpp"

namespace {

bool one_line(const std::string& message) {
  return !message.empty() && message.find('\n') == std::string::npos && message.find('\r') == std::string::npos;
}

// "YYYY-MM-DDTHH:MM:SSZ", which is what kubectl's RFC 3339 parser takes.
bool rfc3339_shape(const std::string& text) {
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  if (text.size() != kShape.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(text[i])) != 0;
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  using namespace devicelogin::cli;
  fuzz::Input in(data, size);
  const std::uint8_t which = in.byte();
  if (which % 2 == 0) {
    // Bit 1: a recorded cluster comes first (server, certificate-authority-data and tls-server-name,
    // each up to a NUL; bit 2: insecure-skip-tls-verify), checked against the variable's spec.cluster.
    std::optional<KubeCluster> recorded;
    if ((which & 2) != 0) {
      KubeCluster record;
      record.server = std::string(in.part());
      record.certificate_authority_data = std::string(in.part());
      record.tls_server_name = std::string(in.part());
      record.insecure_skip_tls_verify = (which & 4) != 0;
      recorded = std::move(record);
    }
    // The variable's value: a C string, so it ends at the first NUL as the environment's does.
    const std::string value(in.rest());
    auto info = parse_kube_exec_info(value.c_str());
    if (info) {
      fuzz::check(info->api_version == kKubeApiV1 || info->api_version == kKubeApiV1beta1);
      // Whatever was accepted names the same version when the answer for it is read back.
      const Secret answer = format_exec_credential(info->api_version, "t", std::nullopt);
      auto again = parse_kube_exec_info(std::string(answer.reveal()).c_str());
      fuzz::check(again && again->api_version == info->api_version);
      if (info->cluster) {
        const KubeCluster& cluster = *info->cluster;
        fuzz::check(!cluster.server.empty());
        const auto normal = normalize_kube_server(cluster.server);
        // A cluster is always its own destination, when its server is a URL at all.
        fuzz::check(check_kube_destination(cluster, cluster).has_value() == normal.has_value());
        if (normal) {
          fuzz::check(normalize_kube_server(*normal) == normal);  // idempotent
          fuzz::check(normal->starts_with("https://") || normal->starts_with("http://"));
          fuzz::check(normal->find_first_of("?# \t\r\n") == std::string::npos);
          // No user:password@ in the authority ('@' may be in the path, as Go's url.Parse reads it).
          const std::size_t authority = normal->find("://") + 3;
          fuzz::check(normal->substr(authority, normal->find('/', authority) - authority).find('@') == std::string::npos);
          for (char c : *normal) fuzz::check(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f);
        }
      }
      auto allowed = check_kube_destination(info->cluster, recorded);
      if (allowed) {
        // Given only for the same server (normalised), CA and TLS name, never for an unrecorded skip of TLS checks.
        fuzz::check(info->cluster && recorded);
        const auto presented = normalize_kube_server(info->cluster->server);
        fuzz::check(presented && presented == normalize_kube_server(recorded->server));
        fuzz::check(info->cluster->certificate_authority_data == recorded->certificate_authority_data);
        fuzz::check(info->cluster->tls_server_name == recorded->tls_server_name);
        fuzz::check(!info->cluster->insecure_skip_tls_verify || recorded->insecure_skip_tls_verify);
      } else {
        fuzz::check(one_line(allowed.error()));
      }
    } else {
      fuzz::check(one_line(info.error()));
      fuzz::check(info.error().starts_with("KUBERNETES_EXEC_INFO"));
    }
    return 0;
  }
  // The answer: 8 bytes of expiry, then the apiVersion up to a NUL, then the token.
  long long expires = 0;
  for (int i = 0; i < 8; ++i) expires = static_cast<long long>((static_cast<unsigned long long>(expires) << 8) | in.byte());
  const bool known = (which & 2) != 0;
  const std::string_view api = in.part();
  const std::string_view token = in.rest();
  const Secret answer = format_exec_credential(api, token, known ? std::optional<long long>(expires) : std::nullopt);
  fuzz::check(answer.reveal().ends_with("}}\n"));
  const auto doc = nlohmann::json::parse(answer.reveal(), nullptr, false);
  fuzz::check(doc.is_object() && doc.size() == 3 && doc.at("kind") == "ExecCredential");
  const auto& status = doc.at("status");
  fuzz::check(status.is_object() && status.at("token").is_string());
  // Invalid UTF-8 becomes U+FFFD (as Go writes it); otherwise the strings are the inputs.
  if (answer.reveal().find("\\ufffd") == std::string_view::npos) {
    fuzz::check(status.at("token") == std::string(token));
    fuzz::check(doc.at("apiVersion") == std::string(api));
  }
  const bool in_range = known && expires >= 0 && expires <= kKubeLatestTimestamp;
  fuzz::check(status.contains("expirationTimestamp") == in_range);
  if (in_range) {
    const std::string when = status.at("expirationTimestamp").get<std::string>();
    fuzz::check(rfc3339_shape(when) && when == rfc3339_utc(expires));
  }
  return 0;
}
