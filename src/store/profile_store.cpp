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
#include "store/token_codec.hpp"

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

// The members a profile is read for, in the order a stored profile has them (nlohmann writes an
// object's members sorted by name).
constexpr std::array<std::string_view, 23> kProfileMembers = {
    "api_urls", "audience", "authorization_endpoint", "ca_file", "client_auth", "client_id",
    "client_secret_env", "client_secret_file", "clock_offset_s", "device_authorization_endpoint", "dpop",
    "dpop_signing_alg_values_supported", "issuer", "jwks_cache_expires_at", "jwks_uri", "login_flow",
    "provider", "revocation_endpoint", "scope", "store", "tenant", "token_endpoint", "userinfo_endpoint"};

// A member's name with its place in kProfileMembers, found when the program is compiled. Only
// "jwks_cache" (which the hot path does not keep) is not there: any other name missing from the
// list does not compile, so the two readings cannot silently differ.
struct ProfileKey {
  consteval ProfileKey(const char* key) : name(key), index(kProfileMembers.size()) {  // NOLINT(google-explicit-constructor): literals
    for (std::size_t i = 0; i < kProfileMembers.size(); ++i) {
      if (kProfileMembers[i] == name) index = i;
    }
    if (index == kProfileMembers.size() && name != "jwks_cache") throw "a profile member read but missing from kProfileMembers";
  }
  std::string_view name;
  std::size_t index;
};

// A profile's members as its full load reads them: from nlohmann's document of the whole text.
class DocumentFields {
 public:
  explicit DocumentFields(const json& doc) : doc_(doc) {}
  [[nodiscard]] std::string string(ProfileKey key) const {
    const json* value = find(key.name);
    return value != nullptr && value->is_string() ? value->get<std::string>() : std::string{};
  }
  [[nodiscard]] std::optional<core::JsonInteger> integer(ProfileKey key) const {
    const json* value = find(key.name);
    if (value == nullptr || !value->is_number_integer()) return std::nullopt;
    return core::JsonInteger{value->get<long long>(), value->is_number_unsigned()};
  }
  [[nodiscard]] std::optional<bool> boolean(ProfileKey key) const {
    const json* value = find(key.name);
    if (value == nullptr || !value->is_boolean()) return std::nullopt;
    return value->get<bool>();
  }
  [[nodiscard]] std::vector<std::string> strings(ProfileKey key) const {
    std::vector<std::string> out;
    if (const json* value = find(key.name); value != nullptr && value->is_array()) {
      for (const auto& element : *value) {
        if (element.is_string()) out.push_back(element.get<std::string>());
      }
    }
    return out;
  }
  [[nodiscard]] std::string object_text(ProfileKey key) const {
    const json* value = find(key.name);
    return value != nullptr && value->is_object() ? value->dump() : std::string{};
  }

 private:
  [[nodiscard]] const json* find(std::string_view key) const {
    auto it = doc_.find(key);
    return it != doc_.end() ? &*it : nullptr;
  }
  const json& doc_;
};

// The same members for the `token` hot path: the text of each known member as core::JsonScanner
// meets it (the last of a repeated name counts, as in the document), decoded only when asked for;
// every other member, and the cached JWKS (most of the text), checked but not kept.
class ScannedFields {
 public:
  void member(std::string_view name, std::string_view value) { members_.take(name, value); }
  [[nodiscard]] std::string string(ProfileKey key) const {
    return core::string_value<std::string>(members_.at(key.index)).value_or(std::string{});
  }
  [[nodiscard]] std::optional<core::JsonInteger> integer(ProfileKey key) const { return core::integer_value(members_.at(key.index)); }
  [[nodiscard]] std::optional<bool> boolean(ProfileKey key) const { return core::bool_value(members_.at(key.index)); }
  [[nodiscard]] std::vector<std::string> strings(ProfileKey key) const {
    return core::string_elements<std::string>(members_.at(key.index));
  }
  [[nodiscard]] static std::string object_text(ProfileKey /*key*/) { return {}; }

 private:
  core::MemberTexts<kProfileMembers.size()> members_{kProfileMembers};
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

namespace {

// A profile from its members (DocumentFields or ScannedFields: one reading of each field for both).
template <class Fields>
Result<Profile> profile_from(const Fields& fields, const std::string& name, const std::string& path) {
  Profile profile;
  profile.name = name;
  profile.provider = fields.string("provider");
  profile.issuer = fields.string("issuer");
  profile.tenant = fields.string("tenant");
  profile.client_id = fields.string("client_id");
  profile.scope = fields.string("scope");
  profile.audience = fields.string("audience");
  profile.endpoints.device_authorization = fields.string("device_authorization_endpoint");
  profile.endpoints.token = fields.string("token_endpoint");
  profile.endpoints.revocation = fields.string("revocation_endpoint");
  profile.endpoints.userinfo = fields.string("userinfo_endpoint");
  profile.endpoints.jwks = fields.string("jwks_uri");
  profile.endpoints.authorization = fields.string("authorization_endpoint");
  // An unknown flow name (a newer version's) is read as auto.
  profile.flow = parse_login_flow(fields.string("login_flow")).value_or(LoginFlow::kAuto);
  profile.client_secret_file = fields.string("client_secret_file");
  profile.client_secret_env = fields.string("client_secret_env");
  profile.client_auth = client_auth_from(fields.string("client_auth"));
  profile.ca_file = fields.string("ca_file");
  profile.store = fields.string("store");
  profile.jwks_cache = fields.object_text("jwks_cache");
  if (auto expires = fields.integer("jwks_cache_expires_at")) profile.jwks_cache_expires_at = expires->value;
  if (auto offset = fields.integer("clock_offset_s")) profile.clock_offset_s = store::plausible_clock_offset(offset->value, offset->is_unsigned);
  for (auto& url : fields.strings("api_urls")) {
    if (!url.empty()) profile.api_urls.push_back(std::move(url));
  }
  if (auto dpop = fields.boolean("dpop")) profile.dpop = *dpop;
  for (auto& alg : fields.strings("dpop_signing_alg_values_supported")) {
    if (!alg.empty()) profile.dpop_algs.push_back(std::move(alg));
  }
  if (profile.store.empty()) profile.store = "file";
  if (profile.client_id.empty() || profile.endpoints.token.empty()) {
    return std::unexpected(remedy_error(ErrorCode::kConfig, "profile file " + path + " lacks client_id or token_endpoint", Remedy::kSignIn, name));
  }
  return profile;
}

}  // namespace

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
  if (parts == ProfileParts::kAll) {
    json doc(json::value_t::discarded);
    if (json_nesting_within(**content, kMaxJsonNesting + 1)) doc = json::parse(**content, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return fail(ErrorCode::kConfig, "profile file " + path + " is not valid JSON");
    return profile_from(DocumentFields(doc), name, path);
  }
  // The token hot path's reading (core/json_reader.hpp): the same texts refused (the same nesting
  // bound, checked as it reads), no document built, only the members read decoded.
  ScannedFields fields;
  const auto root = core::JsonScanner(**content, kMaxJsonNesting + 1).scan([&](std::string_view key, std::string_view value) {
    fields.member(key, value);
  });
  if (root != core::JsonScanner::Root::kObject) return fail(ErrorCode::kConfig, "profile file " + path + " is not valid JSON");
  return profile_from(fields, name, path);
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
