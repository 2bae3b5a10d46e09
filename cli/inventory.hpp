#pragma once
// The inventory: every token set this user has in every store (file, kernel keyring, Secret
// Service), for `status --all` and `logout --all`, including sets a profile no longer names (left
// by an earlier login to another store, or an older version) and sets with no profile at all.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace devicelogin::cli {

struct InventoryEntry {
  std::string profile;
  std::string store;          // where this set is
  bool profile_saved = false;  // a saved profile of that name exists
  std::string profile_store;  // the store the profile names (empty without a profile)
  std::string issuer;
  std::string client_id;
  std::optional<long long> bytes;
  std::optional<long long> obtained_at;  // when the set was issued (its last login or refresh)
  std::optional<long long> last_used;    // the audit trail's last hand-out of this profile
  std::optional<long long> expires_at;
  std::string token_type;
  bool dpop = false;
  std::string problem;  // why the set could not be read, when it could not
  // What the machine policy refuses of this set ("file store not allowed"; check_inventory_policy).
  std::vector<std::string> violations;
  // Held by a store the profile does not name, or by no profile.
  [[nodiscard]] bool stray() const { return !profile_saved || profile_store != store; }
};

struct Inventory {
  std::vector<InventoryEntry> entries;
  // Stores that could not be searched, with why (e.g. no Secret Service on this session bus).
  std::vector<std::pair<std::string, std::string>> unavailable;
};

// Every stored set. Never fails as a whole: a store that cannot be read is listed as unavailable.
[[nodiscard]] Inventory take_inventory();
// Fills each entry's violations from the machine policy in force (nothing without one).
void check_inventory_policy(Inventory& inventory);
// One entry as a JSON object (status --all --json).
[[nodiscard]] nlohmann::json inventory_json(const InventoryEntry& entry);
// `status --all [--json]`.
int run_status_all(bool json);

}  // namespace devicelogin::cli
