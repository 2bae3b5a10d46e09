#include "inventory.hpp"

#include <dirent.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>
#include <utility>

#include "devicelogin/advanced/audit.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/policy.hpp"
#include "devicelogin/sanitize.hpp"
#include "devicelogin/session.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

constexpr const char* kStores[] = {"file", "kernel-keyring", "secret-service"};

// The names of the sets in the file store's directory ($XDG_STATE_HOME/devicelogin/tokens/NAME.json):
// a set whose profile is gone is found there by its file. (The keyrings are searched for the
// names of the saved profiles and of these files.)
std::set<std::string> file_store_names() {
  std::set<std::string> names;
  auto state = default_state_directory();
  if (!state) return names;
  const std::string directory = *state + "/tokens";
  DIR* handle = ::opendir(directory.c_str());
  if (handle == nullptr) return names;
  while (const dirent* entry = ::readdir(handle)) {
    std::string_view name = entry->d_name;
    if (!name.ends_with(".json") || name.starts_with('.')) continue;
    name.remove_suffix(5);
    if (valid_profile_name(name)) names.emplace(name);
  }
  ::closedir(handle);
  return names;
}

// The last hand-out time of each profile in the audit trail.
std::map<std::string, long long> last_uses() {
  std::map<std::string, long long> uses;
  auto lines = audit_log_lines();
  if (!lines) return uses;
  for (const std::string& line : *lines) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (!record.is_object()) continue;
    const auto event = record.find("event");
    const auto profile = record.find("profile");
    const auto ts = record.find("ts");
    const auto outcome = record.find("outcome");
    if (event == record.end() || *event != "handout" || profile == record.end() || !profile->is_string() ||
        ts == record.end() || !ts->is_number_integer() || outcome == record.end() || *outcome != "ok") {
      continue;
    }
    long long& last = uses[profile->get<std::string>()];
    last = std::max(last, ts->get<long long>());
  }
  return uses;
}

nlohmann::json number_or_null(const std::optional<long long>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

std::string describe_seconds(long long seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 7200) return std::to_string(seconds / 60) + " min";
  if (seconds < 172800) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / 86400) + " d";
}

std::string describe_age(const std::optional<long long>& at, long long now) {
  if (!at) return "-";
  return describe_seconds(std::max(0LL, now - *at)) + " ago";
}

std::string pad(std::string text, std::size_t width) {
  if (text.size() >= width) text = text.substr(0, width - 2) + "~";
  text.resize(width, ' ');
  return text;
}

}  // namespace

Inventory take_inventory() {
  Inventory inventory;
  std::set<std::string> names = file_store_names();
  std::map<std::string, Profile> profiles;
  if (auto saved = Session::profiles()) {
    for (const std::string& name : *saved) {
      names.insert(name);
      if (auto session = Session::open(name); session) profiles.emplace(name, session->profile());
    }
  }
  const auto uses = last_uses();
  for (const char* store_name : kStores) {
    auto store = open_token_store(store_name);
    if (!store) {
      inventory.unavailable.emplace_back(store_name, store.error().message);
      continue;
    }
    bool first = true;
    for (const std::string& name : names) {
      auto loaded = (*store)->load(name);
      const bool was_first = std::exchange(first, false);
      if (!loaded && loaded.error().code == ErrorCode::kStorage && store_name != std::string_view("file") && was_first) {
        // The keyring itself is not there (no Secret Service on this bus, keyctl refused): once
        // per store, not once per profile.
        inventory.unavailable.emplace_back(store_name, sanitize_text(loaded.error().message));
        break;
      }
      if (loaded && !*loaded) continue;
      InventoryEntry entry;
      entry.profile = name;
      entry.store = store_name;
      if (const auto profile = profiles.find(name); profile != profiles.end()) {
        entry.profile_saved = true;
        entry.profile_store = profile->second.store;
        entry.issuer = profile->second.issuer;
        entry.client_id = profile->second.client_id;
      }
      if (!loaded) {
        entry.problem = sanitize_text(loaded.error().message);
        inventory.entries.push_back(std::move(entry));
        continue;
      }
      const TokenSet& tokens = **loaded;
      if (entry.client_id.empty()) entry.client_id = tokens.client_id;
      if (entry.issuer.empty()) entry.issuer = tokens.token_endpoint;  // no profile: where it came from
      if (auto usage = (*store)->usage(name); usage && usage->set_bytes) {
        entry.bytes = static_cast<long long>(*usage->set_bytes);
      }
      if (tokens.obtained_at > 0) entry.obtained_at = tokens.obtained_at;
      entry.expires_at = tokens.expires_at;
      entry.token_type = tokens.token_type;
      entry.dpop = !tokens.dpop_key.empty();
      if (const auto use = uses.find(name); use != uses.end()) entry.last_used = use->second;
      inventory.entries.push_back(std::move(entry));
    }
  }
  check_inventory_policy(inventory);
  return inventory;
}

void check_inventory_policy(Inventory& inventory) {
  // What the machine policy would refuse of each set today (the library refuses to hand it out;
  // this says so in the list). Every command has already refused to run under a policy that
  // cannot be honoured, so a load error here means there is nothing to compare against.
  auto policy = load_machine_policy();
  if (!policy || !policy->present) return;
  auto trimmed = [](std::string_view issuer) {
    while (issuer.size() > 1 && issuer.back() == '/') issuer.remove_suffix(1);
    return issuer;
  };
  for (InventoryEntry& entry : inventory.entries) {
    if (policy->stores && std::ranges::find(*policy->stores, entry.store) == policy->stores->end()) {
      entry.violations.push_back(entry.store + " store not allowed");
    }
    if (policy->issuers && !entry.issuer.empty()) {
      const auto allowed = std::ranges::find_if(
          *policy->issuers, [&](const PolicyIssuer& issuer) { return trimmed(issuer.issuer) == trimmed(entry.issuer); });
      if (allowed == policy->issuers->end()) {
        entry.violations.emplace_back("issuer not allowed");
      } else if (!allowed->client_ids.empty() && !entry.client_id.empty() &&
                 std::ranges::find(allowed->client_ids, entry.client_id) == allowed->client_ids.end()) {
        entry.violations.emplace_back("client not allowed");
      }
    }
    if (policy->require_dpop && !entry.dpop && entry.problem.empty()) {
      entry.violations.emplace_back("bearer token where the policy requires DPoP");
    }
  }
}

nlohmann::json inventory_json(const InventoryEntry& entry) {
  return {{"profile", entry.profile},
          {"store", entry.store},
          {"profile_saved", entry.profile_saved},
          {"profile_store", string_or_null(entry.profile_store)},
          {"stray", entry.stray()},
          {"issuer", string_or_null(sanitize_text(entry.issuer))},
          {"client_id", string_or_null(sanitize_text(entry.client_id))},
          {"bytes", number_or_null(entry.bytes)},
          {"obtained_at", number_or_null(entry.obtained_at)},
          {"last_used", number_or_null(entry.last_used)},
          {"expires_at", number_or_null(entry.expires_at)},
          {"token_type", string_or_null(sanitize_text(entry.token_type))},
          {"binding", entry.dpop ? "dpop" : "bearer"},
          {"problem", string_or_null(entry.problem)},
          {"violations", entry.violations}};
}

int run_status_all(bool json) {
  const Inventory inventory = take_inventory();
  if (json) {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& entry : inventory.entries) entries.push_back(inventory_json(entry));
    nlohmann::json unavailable = nlohmann::json::object();
    for (const auto& [store, why] : inventory.unavailable) unavailable[store] = why;
    emit_json({{"tokens", entries}, {"unavailable_stores", unavailable}});
    return 0;
  }
  const long long now = static_cast<long long>(std::time(nullptr));
  if (inventory.entries.empty()) {
    say("No tokens stored in any store.");
  } else {
    say(pad("PROFILE", 14) + pad("STORE", 20) + pad("ISSUER", 30) + pad("CLIENT", 20) + pad("BYTES", 7) +
        pad("OBTAINED", 12) + pad("LAST USE", 12) + pad("EXPIRES", 12) + pad("TYPE", 8) + "VIOLATIONS");
    for (const auto& entry : inventory.entries) {
      std::string store = entry.store;
      if (!entry.profile_saved) {
        store += " (no profile)";
      } else if (entry.stray()) {
        store += " (stray)";
      }
      std::string expires = "-";
      if (entry.expires_at) {
        expires = *entry.expires_at <= now ? "expired" : "in " + describe_seconds(*entry.expires_at - now);
      }
      std::string violations;
      for (const auto& violation : entry.violations) violations += (violations.empty() ? "" : "; ") + violation;
      if (!entry.problem.empty()) violations += (violations.empty() ? "unreadable: " : "; unreadable: ") + entry.problem;
      say(pad(entry.profile, 14) + pad(store, 20) + pad(sanitize_text(entry.issuer), 30) +
          pad(sanitize_text(entry.client_id), 20) + pad(entry.bytes ? std::to_string(*entry.bytes) : "-", 7) +
          pad(describe_age(entry.obtained_at, now), 12) + pad(describe_age(entry.last_used, now), 12) + pad(expires, 12) +
          pad(entry.dpop ? "DPoP" : "bearer", 8) + violations);
    }
  }
  for (const auto& [store, why] : inventory.unavailable) say("Not searched: " + store + " (" + why + ").");
  return 0;
}

}  // namespace devicelogin::cli
