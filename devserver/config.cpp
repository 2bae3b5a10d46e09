#include "config.hpp"
#include "authorization.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/sanitize.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace devicelogin::devserver {

namespace {

constexpr std::size_t kMaxConfigBytes = 1 << 20;

// RFC 6749 Appendix A.1: client_id is VSCHAR (%x20-7E); we also refuse spaces to keep logs sane.
bool valid_client_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool valid_username(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f || c == ':') return false;
  }
  return true;
}

std::string optional_string(const nlohmann::json& object, const char* key, bool& ok) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) {
    ok = false;
    return {};
  }
  return it->get<std::string>();
}

}  // namespace

bool valid_scope_token(std::string_view token) {
  if (token.empty()) return false;
  for (char c : token) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

Result<ConfigFile> parse_config(std::string_view text) {
  auto document = json_nesting_within(text) ? nlohmann::json::parse(text, nullptr, false) : nlohmann::json(nlohmann::json::value_t::discarded);
  if (document.is_discarded() || !document.is_object()) {
    return fail(ErrorCode::kConfig, "not a JSON object");
  }
  ConfigFile config;
  if (auto clients = document.find("clients"); clients != document.end()) {
    if (!clients->is_array()) return fail(ErrorCode::kConfig, "\"clients\" must be an array");
    std::size_t index = 0;
    for (const auto& entry : *clients) {
      std::string where = "clients[" + std::to_string(index++) + "]";
      if (!entry.is_object()) return fail(ErrorCode::kConfig, where + " must be an object");
      bool ok = true;
      ClientSpec client;
      client.client_id = optional_string(entry, "client_id", ok);
      std::string secret = optional_string(entry, "client_secret", ok);
      client.client_secret = Secret(std::move(secret));
      client.name = optional_string(entry, "name", ok);
      if (!ok) return fail(ErrorCode::kConfig, where + ": client_id, client_secret and name must be strings");
      if (!valid_client_id(client.client_id)) {
        return fail(ErrorCode::kConfig, where + ": client_id must be 1-128 printable characters without spaces");
      }
      if (auto scopes = entry.find("scopes"); scopes != entry.end()) {
        if (!scopes->is_array()) return fail(ErrorCode::kConfig, where + ": scopes must be an array of strings");
        for (const auto& scope : *scopes) {
          if (!scope.is_string() || !valid_scope_token(scope.get<std::string>())) {
            return fail(ErrorCode::kConfig, where + ": scopes must be valid scope tokens (RFC 6749 §3.3)");
          }
          client.scopes.push_back(scope.get<std::string>());
        }
      }
      if (auto uris = entry.find("redirect_uris"); uris != entry.end()) {
        if (!uris->is_array()) return fail(ErrorCode::kConfig, where + ": redirect_uris must be an array of strings");
        for (const auto& uri : *uris) {
          // Only loopback redirects: the server sends browsers nowhere else (RFC 8252 §7.3, §8.3).
          if (!uri.is_string() || !parse_loopback_redirect(uri.get<std::string>())) {
            return fail(ErrorCode::kConfig, where + ": redirect_uris must be loopback URIs such as "
                                                    "http://127.0.0.1/callback or http://[::1]/callback "
                                                    "(any port is accepted at run time; not localhost)");
          }
          client.redirect_uris.push_back(uri.get<std::string>());
        }
      }
      config.clients.push_back(std::move(client));
    }
  }
  if (auto users = document.find("users"); users != document.end()) {
    if (!users->is_array()) return fail(ErrorCode::kConfig, "\"users\" must be an array");
    std::size_t index = 0;
    for (const auto& entry : *users) {
      std::string where = "users[" + std::to_string(index++) + "]";
      if (!entry.is_object()) return fail(ErrorCode::kConfig, where + " must be an object");
      bool ok = true;
      UserSpec user;
      user.username = optional_string(entry, "username", ok);
      std::string password = optional_string(entry, "password", ok);
      user.password = Secret(std::move(password));
      user.name = optional_string(entry, "name", ok);
      if (!ok) return fail(ErrorCode::kConfig, where + ": username, password and name must be strings");
      if (!valid_username(user.username)) {
        return fail(ErrorCode::kConfig, where + ": username must be 1-128 printable characters without spaces or ':'");
      }
      if (user.password.empty()) return fail(ErrorCode::kConfig, where + ": password is required");
      config.users.push_back(std::move(user));
    }
  }
  return config;
}

Result<ConfigFile> load_config(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return fail(ErrorCode::kConfig, "cannot read config file " + path);
  std::ostringstream text;
  text << file.rdbuf();
  std::string content = text.str();
  if (content.size() > kMaxConfigBytes) return fail(ErrorCode::kConfig, "config file " + path + " is larger than 1 MiB");
  auto config = parse_config(content);
  wipe_string(content);
  if (!config) return fail(ErrorCode::kConfig, "config file " + path + ": " + config.error().message);
  return config;
}

}  // namespace devicelogin::devserver
