#include <dirent.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "core/fs.hpp"
#include "core/json_reader.hpp"
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

// The members load_profile reads, taken as the reader meets them (the last of a repeated name
// counts, as in the document json::parse makes); every other member is dropped unread.
class ProfileMembers final : public core::JsonMemberSink<json> {
 public:
  void member(json::string_t& name, json&& value) override {
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      if (name == kNames[i]) {
        values_[i] = std::move(value);
        present_[i] = true;
        return;
      }
    }
  }
  // The member `name` (one of kNames), or nullptr when the text has none.
  [[nodiscard]] const json* find(std::string_view name) const {
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      if (name == kNames[i]) return present_[i] ? &values_[i] : nullptr;
    }
    return nullptr;
  }

 private:
  static constexpr std::array<std::string_view, 22> kNames = {
      "provider", "issuer", "tenant", "client_id", "scope", "audience", "device_authorization_endpoint",
      "token_endpoint", "revocation_endpoint", "userinfo_endpoint", "jwks_uri", "client_secret_file",
      "client_secret_env", "client_auth", "ca_file", "store", "jwks_cache", "jwks_cache_expires_at",
      "clock_offset_s", "api_urls", "dpop", "dpop_signing_alg_values_supported"};
  std::array<json, kNames.size()> values_;
  std::array<bool, kNames.size()> present_{};
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
  ProfileMembers members;
  if (parts == ProfileParts::kAll) {
    if (json_nesting_within(**content, kMaxJsonNesting + 1)) doc = json::parse(**content, nullptr, false);
  } else {
    // The token hot path's reading (core/json_reader.hpp): the same texts refused (the same
    // nesting bound, checked as it reads), the members read below taken as they come with the
    // elements of those that are arrays or objects (api_urls), anything deeper kept empty, and
    // the cached JWKS (most of the text) checked but not kept.
    const core::ReadLimits limits{.max_depth = kMaxJsonNesting + 1, .kept_depth = 2, .left_out_member = "jwks_cache"};
    if (auto root = core::read_json_members<json>(**content, limits, members)) doc = std::move(*root);
  }
  if (doc.is_discarded() || !doc.is_object()) return fail(ErrorCode::kConfig, "profile file " + path + " is not valid JSON");
  // The member `key`, or nullptr.
  auto member = [&](const char* key) -> const json* {
    if (parts != ProfileParts::kAll) return members.find(key);
    auto it = doc.find(key);
    return it != doc.end() ? &*it : nullptr;
  };
  auto str = [&](const char* key) {
    const json* value = member(key);
    return value != nullptr && value->is_string() ? value->get<std::string>() : std::string{};
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
  if (const json* it = member("jwks_cache"); it != nullptr && it->is_object()) profile.jwks_cache = it->dump();
  if (const json* it = member("jwks_cache_expires_at"); it != nullptr && it->is_number_integer()) {
    profile.jwks_cache_expires_at = it->get<long long>();
  }
  // Only a plausible offset (within a day, as when it was learned) is taken back.
  if (const json* it = member("clock_offset_s"); it != nullptr && it->is_number_integer() && !it->is_number_unsigned()) {
    if (long long offset = it->get<long long>(); offset >= -86400 && offset <= 86400) profile.clock_offset_s = offset;
  } else if (it != nullptr && it->is_number_unsigned() && it->get<std::uint64_t>() <= 86400) {
    profile.clock_offset_s = static_cast<long long>(it->get<std::uint64_t>());
  }
  if (const json* it = member("api_urls"); it != nullptr && it->is_array()) {
    for (const auto& url : *it) {
      if (url.is_string() && !url.get<std::string>().empty()) profile.api_urls.push_back(url.get<std::string>());
    }
  }
  if (const json* it = member("dpop"); it != nullptr && it->is_boolean()) profile.dpop = it->get<bool>();
  if (const json* it = member("dpop_signing_alg_values_supported"); it != nullptr && it->is_array()) {
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
