#include "docker_config.hpp"

#include <optional>

#include <nlohmann/json.hpp>

#include "devicelogin/secret.hpp"

namespace devicelogin::cli {
namespace {

// Member order as the user (or docker) wrote it.
using ordered = nlohmann::ordered_json;

// The file's "auths" may hold base64 passwords: every string value of the parsed copy is
// overwritten before it is freed.
void wipe_strings(ordered& value) {
  if (value.is_string()) {
    wipe_string(value.get_ref<std::string&>());
  } else if (value.is_structured()) {
    for (auto& element : value) wipe_strings(element);
  }
}

struct ParsedConfig {
  ordered doc;
  ParsedConfig() = default;
  ParsedConfig(const ParsedConfig&) = delete;
  ParsedConfig& operator=(const ParsedConfig&) = delete;
  ~ParsedConfig() { wipe_strings(doc); }
};

// Parses `text` into `config` (an empty object for blank text); an error message otherwise.
std::optional<std::string> parse_config(std::string_view text, ParsedConfig& config) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    config.doc = ordered::object();
    return std::nullopt;
  }
  // (no parse error text: it could quote a password)
  config.doc = ordered::parse(text, nullptr, false);
  if (config.doc.is_discarded() || !config.doc.is_object()) return "is not a JSON object";
  if (auto helpers = config.doc.find("credHelpers"); helpers != config.doc.end() && !helpers->is_object()) {
    return "has a \"credHelpers\" that is not an object";
  }
  return std::nullopt;
}

// Docker's own layout (json.MarshalIndent with a tab), and a final newline.
std::string render(const ordered& doc) { return doc.dump(1, '\t', false, ordered::error_handler_t::replace) + "\n"; }

}  // namespace

std::expected<DockerConfigEdit, std::string> add_docker_credential_helpers(std::string_view text,
                                                                           const std::vector<std::string>& keys,
                                                                           std::string_view helper) {
  ParsedConfig config;
  if (auto problem = parse_config(text, config)) return std::unexpected(*problem);
  bool changed = false;
  ordered& helpers = config.doc["credHelpers"];
  if (helpers.is_null()) {
    helpers = ordered::object();
    changed = true;
  }
  for (const std::string& key : keys) {
    auto it = helpers.find(key);
    if (it != helpers.end() && it->is_string() && it->get_ref<const std::string&>() == helper) continue;
    helpers[key] = std::string(helper);
    changed = true;
  }
  return DockerConfigEdit{render(config.doc), changed};
}

std::expected<DockerConfigEdit, std::string> remove_docker_credential_helpers(std::string_view text,
                                                                              const std::vector<std::string>& keys,
                                                                              std::string_view helper) {
  ParsedConfig config;
  if (auto problem = parse_config(text, config)) return std::unexpected(*problem);
  auto helpers = config.doc.find("credHelpers");
  if (helpers == config.doc.end()) return DockerConfigEdit{std::string(text), false};
  bool changed = false;
  for (const std::string& key : keys) {
    auto it = helpers->find(key);
    if (it != helpers->end() && it->is_string() && it->get_ref<const std::string&>() == helper) {
      helpers->erase(it);
      changed = true;
    }
  }
  if (!changed) return DockerConfigEdit{std::string(text), false};
  // An object only this helper's entries made is taken out with them.
  if (helpers->empty()) config.doc.erase(helpers);
  return DockerConfigEdit{render(config.doc), true};
}

}  // namespace devicelogin::cli
