#include "docker_config.hpp"

#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "devicelogin/secret.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli {
namespace {

// Member order as the user (or docker) wrote it.
using OrderedJson = nlohmann::ordered_json;

// The file's "auths" may hold base64 passwords: every string value of the parsed copy is
// overwritten before it is freed.
// Walks with its own stack, not by recursion: the file is the user's, and nesting as deep as the
// 1 MiB it may take would overflow the call stack.
void wipe_strings(OrderedJson& root) {
  std::vector<OrderedJson*> pending{&root};
  while (!pending.empty()) {
    OrderedJson* value = pending.back();
    pending.pop_back();
    if (value->is_string()) {
      wipe_string(value->get_ref<std::string&>());
    } else if (value->is_structured()) {
      for (auto& element : *value) pending.push_back(&element);
    }
  }
}

struct ParsedConfig {
  OrderedJson doc;
  ParsedConfig() = default;
  ParsedConfig(const ParsedConfig&) = delete;
  ParsedConfig& operator=(const ParsedConfig&) = delete;
  ~ParsedConfig() {
    try {
      wipe_strings(doc);
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory for the walk's stack; the copy is freed unwiped, a destructor may not throw
    }
  }
};

// Parses `text` into `config` (an empty object for blank text); an error message otherwise.
std::optional<std::string> parse_config(std::string_view text, ParsedConfig& config) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    config.doc = OrderedJson::object();
    return std::nullopt;
  }
  // (no parse error text: it could quote a password)
  if (!json_nesting_within(text)) return "nests arrays or objects more than " + std::to_string(kMaxJsonNesting) + " levels deep";
  config.doc = OrderedJson::parse(text, nullptr, false);
  if (config.doc.is_discarded() || !config.doc.is_object()) return "is not a JSON object";
  if (auto helpers = config.doc.find("credHelpers"); helpers != config.doc.end() && !helpers->is_object()) {
    return "has a \"credHelpers\" that is not an object";
  }
  return std::nullopt;
}

// Docker's own layout (json.MarshalIndent with a tab), and a final newline.
std::string render(const OrderedJson& doc) { return doc.dump(1, '\t', false, OrderedJson::error_handler_t::replace) + "\n"; }

}  // namespace

std::expected<DockerConfigEdit, std::string> add_docker_credential_helpers(std::string_view text,
                                                                           const std::vector<std::string>& keys,
                                                                           std::string_view helper) {
  ParsedConfig config;
  if (auto problem = parse_config(text, config)) return std::unexpected(*problem);
  bool changed = false;
  OrderedJson& helpers = config.doc["credHelpers"];
  if (helpers.is_null()) {
    helpers = OrderedJson::object();
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
