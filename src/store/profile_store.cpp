#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/advanced/profile_store.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/sanitize.hpp"
#include "store/profile_reading.hpp"

namespace devicelogin {
namespace {

using json = nlohmann::json;

const char* client_auth_name(ClientAuth auth) {
  switch (auth) {
    case ClientAuth::kNone: return "none";
    case ClientAuth::kBasic: return "client_secret_basic";
    case ClientAuth::kPost: return "client_secret_post";
  }
  return "client_secret_basic";
}

ClientAuth client_auth_from(const std::string& name) {
  if (name == "none") return ClientAuth::kNone;
  if (name == "client_secret_post") return ClientAuth::kPost;
  return ClientAuth::kBasic;
}

// The parser's events for a profile file, kept as a document of the root object's members only
// (what load_profile reads): a member that is an object or array is kept empty, except api_urls,
// kept with its elements (each nested object or array, which no reader takes, kept empty), and
// jwks_cache is left out. The same parser as json::parse, so the same texts are refused; a repeated
// name: the last wins, as in json::parse. Nesting beyond load_profile's bound is refused.
struct TopLevelMembers {
  json doc = json::object();
  bool root_is_object = false;
  std::size_t depth = 0;
  bool skip_member = false;  // the member being read is jwks_cache
  json* array = nullptr;     // api_urls, while its elements are read

  bool value(json&& item) {
    if (!root_is_object || skip_member) return true;
    if (depth == 1) {
      doc[key_] = std::move(item);
    } else if (depth == 2 && array != nullptr) {
      array->push_back(std::move(item));
    }
    return true;
  }
  bool null() { return value(nullptr); }
  bool boolean(bool item) { return value(item); }
  bool number_integer(json::number_integer_t item) { return value(item); }
  bool number_unsigned(json::number_unsigned_t item) { return value(item); }
  bool number_float(json::number_float_t item, const json::string_t& /*text*/) { return value(item); }
  bool string(json::string_t& item) { return value(std::move(item)); }
  bool binary(json::binary_t& /*item*/) { return true; }  // not in JSON text
  bool key(json::string_t& name) {
    if (depth == 1) {
      key_ = std::move(name);
      skip_member = key_ == "jwks_cache";
    }
    return true;
  }
  bool start_object(std::size_t /*elements*/) { return open(json::object()); }
  bool start_array(std::size_t /*elements*/) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const nlohmann::detail::exception& /*error*/) {
    return false;
  }

 private:
  bool open(json&& empty) {
    // The bound ProfileStore::load checks before parsing (json_nesting_within), +1: the cached
    // JWKS is stored one level down. Deeper is refused, as there.
    if (depth + 1 > kMaxJsonNesting + 1) return false;
    if (depth == 0) {
      root_is_object = empty.is_object();
    } else {
      const bool is_api_urls = depth == 1 && empty.is_array() && key_ == "api_urls";
      value(std::move(empty));
      if (is_api_urls && root_is_object) array = &doc[key_];
    }
    ++depth;
    return true;
  }
  bool close() {
    --depth;
    if (depth == 1) array = nullptr;
    return true;
  }
  std::string key_;
};

}  // namespace

const char* login_flow_name(LoginFlow flow) {
  switch (flow) {
    case LoginFlow::kDevice: return "device";
    case LoginFlow::kBrowser: return "browser";
    case LoginFlow::kAuto: break;
  }
  return "auto";
}

std::optional<LoginFlow> parse_login_flow(std::string_view name) {
  if (name == "auto") return LoginFlow::kAuto;
  if (name == "device") return LoginFlow::kDevice;
  if (name == "browser") return LoginFlow::kBrowser;
  return std::nullopt;
}

bool valid_profile_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

Result<ProfileStore> ProfileStore::from_environment() {
  auto dir = default_config_directory();
  if (!dir) return std::unexpected(dir.error());
  return ProfileStore(*dir + "/profiles");
}

Result<Profile> ProfileStore::load(const std::string& name) const {
  return store::load_profile(*this, name, store::ProfileParts::kAll);
}

namespace store {

Result<Profile> load_profile(const ProfileStore& profiles, const std::string& name, ProfileParts parts) {
  if (!valid_profile_name(name)) {
    return fail(ErrorCode::kUsage, "invalid profile name \"" + name + "\" (use letters, digits, '.', '_' and '-')");
  }
  std::string path = profiles.directory() + "/" + name + ".json";
  auto content = core::read_private_file(path, "profile");
  if (!content) return std::unexpected(content.error());
  if (!*content) {
    return std::unexpected(remedy_error(ErrorCode::kNotLoggedIn, "no profile \"" + name + "\"", Remedy::kSignIn, name));
  }
  // +1: the cached JWKS (itself within kMaxJsonNesting) is stored one level down.
  json doc(json::value_t::discarded);
  if (parts == ProfileParts::kAll) {
    if (json_nesting_within(**content, kMaxJsonNesting + 1)) doc = json::parse(**content, nullptr, false);
  } else if (TopLevelMembers members; json::sax_parse(**content, &members) && members.root_is_object) {
    // (The reader stops at the same nesting bound: no separate pass over the text.)
    doc = std::move(members.doc);
  }
  if (doc.is_discarded() || !doc.is_object()) return fail(ErrorCode::kConfig, "profile file " + path + " is not valid JSON");
  auto str = [&](const char* key) {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string{};
  };
  Profile profile;
  profile.name = name;
  profile.provider = str("provider");
  profile.issuer = str("issuer");
  profile.tenant = str("tenant");
  profile.client_id = str("client_id");
  profile.scope = str("scope");
  profile.audience = str("audience");
  profile.endpoints.device_authorization = str("device_authorization_endpoint");
  profile.endpoints.token = str("token_endpoint");
  profile.endpoints.revocation = str("revocation_endpoint");
  profile.endpoints.userinfo = str("userinfo_endpoint");
  profile.endpoints.jwks = str("jwks_uri");
  profile.endpoints.authorization = str("authorization_endpoint");
  // An unknown flow name (a newer version's) is read as auto.
  profile.flow = parse_login_flow(str("login_flow")).value_or(LoginFlow::kAuto);
  profile.client_secret_file = str("client_secret_file");
  profile.client_secret_env = str("client_secret_env");
  profile.client_auth = client_auth_from(str("client_auth"));
  profile.ca_file = str("ca_file");
  profile.store = str("store");
  if (auto it = doc.find("jwks_cache"); it != doc.end() && it->is_object()) profile.jwks_cache = it->dump();
  if (auto it = doc.find("jwks_cache_expires_at"); it != doc.end() && it->is_number_integer()) {
    profile.jwks_cache_expires_at = it->get<long long>();
  }
  // Only a plausible offset (within a day, as when it was learned) is taken back.
  if (auto it = doc.find("clock_offset_s"); it != doc.end() && it->is_number_integer() && !it->is_number_unsigned()) {
    if (long long offset = it->get<long long>(); offset >= -86400 && offset <= 86400) profile.clock_offset_s = offset;
  } else if (it != doc.end() && it->is_number_unsigned() && it->get<std::uint64_t>() <= 86400) {
    profile.clock_offset_s = static_cast<long long>(it->get<std::uint64_t>());
  }
  if (auto it = doc.find("api_urls"); it != doc.end() && it->is_array()) {
    for (const auto& url : *it) {
      if (url.is_string() && !url.get<std::string>().empty()) profile.api_urls.push_back(url.get<std::string>());
    }
  }
  if (auto it = doc.find("dpop"); it != doc.end() && it->is_boolean()) profile.dpop = it->get<bool>();
  if (auto it = doc.find("dpop_signing_alg_values_supported"); it != doc.end() && it->is_array()) {
    for (const auto& alg : *it) {
      if (alg.is_string() && !alg.get<std::string>().empty()) profile.dpop_algs.push_back(alg.get<std::string>());
    }
  }
  if (profile.store.empty()) profile.store = "file";
  if (profile.client_id.empty() || profile.endpoints.token.empty()) {
    return std::unexpected(remedy_error(ErrorCode::kConfig, "profile file " + path + " lacks client_id or token_endpoint", Remedy::kSignIn, name));
  }
  return profile;
}

}  // namespace store

Result<void> ProfileStore::save(const Profile& profile) const {
  if (!valid_profile_name(profile.name)) return fail(ErrorCode::kUsage, "invalid profile name \"" + profile.name + "\"");
  if (auto dir = core::ensure_private_directory(directory_); !dir) return dir;
  json doc = {
      {"provider", profile.provider},
      {"issuer", profile.issuer},
      {"tenant", profile.tenant},
      {"client_id", profile.client_id},
      {"scope", profile.scope},
      {"audience", profile.audience},
      {"device_authorization_endpoint", profile.endpoints.device_authorization},
      {"token_endpoint", profile.endpoints.token},
      {"revocation_endpoint", profile.endpoints.revocation},
      {"userinfo_endpoint", profile.endpoints.userinfo},
      {"jwks_uri", profile.endpoints.jwks},
      {"client_secret_file", profile.client_secret_file},
      {"client_secret_env", profile.client_secret_env},
      {"client_auth", client_auth_name(profile.client_auth)},
      {"ca_file", profile.ca_file},
      {"store", profile.store},
  };
  if (!profile.endpoints.authorization.empty()) doc["authorization_endpoint"] = profile.endpoints.authorization;
  if (profile.flow != LoginFlow::kAuto) doc["login_flow"] = login_flow_name(profile.flow);
  if (!profile.api_urls.empty()) doc["api_urls"] = profile.api_urls;
  if (profile.dpop) doc["dpop"] = true;
  if (!profile.dpop_algs.empty()) doc["dpop_signing_alg_values_supported"] = profile.dpop_algs;
  if (profile.clock_offset_s) doc["clock_offset_s"] = *profile.clock_offset_s;
  if (!profile.jwks_cache.empty()) {
    json jwks = json_nesting_within(profile.jwks_cache) ? json::parse(profile.jwks_cache, nullptr, false) : json(json::value_t::discarded);
    if (jwks.is_object()) doc["jwks_cache"] = std::move(jwks);
    doc["jwks_cache_expires_at"] = profile.jwks_cache_expires_at;
  }
  return core::write_file_atomically(directory_ + "/" + profile.name + ".json", doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

Result<bool> ProfileStore::remove(const std::string& name) const {
  if (!valid_profile_name(name)) return fail(ErrorCode::kUsage, "invalid profile name \"" + name + "\"");
  return core::remove_file(directory_ + "/" + name + ".json");
}

namespace {
// The default profile's name is kept next to the profiles, in a name no profile can have.
constexpr std::string_view kDefaultFile = "/.default";
}  // namespace

Result<std::string> ProfileStore::default_name() const {
  if (std::string chosen = core::env_or_empty("DEVICELOGIN_PROFILE"); !chosen.empty()) {
    if (!valid_profile_name(chosen)) {
      return std::unexpected(remedy_error(ErrorCode::kUsage,
                                          "DEVICELOGIN_PROFILE names an invalid profile \"" + chosen +
                                              "\" (use letters, digits, '.', '_' and '-')",
                                          Remedy::kFixSettings, {}, "profile"));
    }
    return chosen;
  }
  const std::string path = directory_ + std::string(kDefaultFile);
  auto text = core::read_private_file(path, "the default profile file");
  if (!text) return std::unexpected(text.error());
  if (!*text) return std::string("default");
  std::string name = **text;
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' ')) name.pop_back();
  if (!valid_profile_name(name)) {
    return fail(ErrorCode::kConfig, "the default profile file " + path + " names an invalid profile");
  }
  return name;
}

Result<void> ProfileStore::set_default(const std::string& name) const {
  if (!valid_profile_name(name)) return fail(ErrorCode::kUsage, "invalid profile name \"" + name + "\"");
  if (auto dir = core::ensure_private_directory(directory_); !dir) return dir;
  return core::write_file_atomically(directory_ + std::string(kDefaultFile), name + "\n");
}

Result<std::vector<std::string>> ProfileStore::list() const {
  std::vector<std::string> names;
  DIR* dir = ::opendir(directory_.c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    std::string file = entry->d_name;
    constexpr std::string_view kSuffix = ".json";
    if (file.size() > kSuffix.size() && file.ends_with(kSuffix)) {
      std::string name = file.substr(0, file.size() - kSuffix.size());
      if (valid_profile_name(name)) names.push_back(name);
    }
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace devicelogin
