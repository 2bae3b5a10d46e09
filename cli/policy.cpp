// `devicelogin policy`: the effective machine policy and where each value came from; and the
// helpers' check against it.
#include <algorithm>
#include <sstream>

#include "devicelogin/policy.hpp"
#include "commands.hpp"
#include "devicelogin/sanitize.hpp"
#include "helpers/helpers.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct PolicyArgs {
  bool json = false;
};

std::string joined(const std::vector<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string hours(double value) {
  std::ostringstream out;
  out << value << " h";
  return out.str();
}

// One row: its key, its value in words and in JSON (null: not set), and whether the file set it.
struct Row {
  std::string key;
  std::string text;
  nlohmann::json value;
  bool set;
};

std::vector<Row> rows_of(const Policy& policy) {
  std::vector<Row> rows;
  // An unset key is null in JSON (no limit), a flag false.
  auto add = [&](std::string key, bool set, std::string text, nlohmann::json value, std::string unset_text) {
    nlohmann::json unset = value.is_boolean() ? nlohmann::json(false) : nlohmann::json(nullptr);
    rows.push_back(Row{std::move(key), set ? std::move(text) : std::move(unset_text), set ? std::move(value) : unset, set});
  };
  {
    std::string text;
    nlohmann::json value = nlohmann::json::array();
    if (policy.issuers) {
      for (const PolicyIssuer& issuer : *policy.issuers) {
        text += (text.empty() ? "" : "; ") + issuer.issuer + " (clients: " +
                (issuer.client_ids.empty() ? std::string("any") : joined(issuer.client_ids)) +
                ", scopes: " + (issuer.scopes.empty() ? std::string("any") : joined(issuer.scopes)) + ")";
        value.push_back({{"issuer", issuer.issuer}, {"client_ids", issuer.client_ids}, {"scopes", issuer.scopes}});
      }
      if (text.empty()) text = "(none: every login is refused)";
    }
    add("issuers", policy.issuers.has_value(), text, value, "any");
  }
  add("stores", policy.stores.has_value(), policy.stores ? joined(*policy.stores) : "", policy.stores ? nlohmann::json(*policy.stores) : nullptr, "any");
  add("max_session_hours", policy.max_session_hours.has_value(), policy.max_session_hours ? hours(*policy.max_session_hours) : "",
      policy.max_session_hours ? nlohmann::json(*policy.max_session_hours) : nullptr, "no limit (as long as refresh works)");
  add("idle_hours", policy.idle_hours.has_value(), policy.idle_hours ? hours(*policy.idle_hours) : "",
      policy.idle_hours ? nlohmann::json(*policy.idle_hours) : nullptr, "no limit");
  add("require_dpop", policy.require_dpop, "yes", true, "no");
  add("require_revocation", policy.require_revocation, "yes", true, "no");
  add("helpers", policy.helpers.has_value(), policy.helpers ? joined(*policy.helpers) : "", policy.helpers ? nlohmann::json(*policy.helpers) : nullptr,
      "all (exec, api, git, docker, kubectl, agent)");
  add("api_origins", policy.api_origins.has_value(), policy.api_origins ? joined(*policy.api_origins) : "",
      policy.api_origins ? nlohmann::json(*policy.api_origins) : nullptr, "any the profile names");
  add("audit", policy.audit.has_value(),
      policy.audit ? std::string(policy.audit->enabled ? "on" : "off") + (policy.audit->journal ? ", also to the journal" : "") : "",
      policy.audit ? nlohmann::json{{"enabled", policy.audit->enabled}, {"journal", policy.audit->journal}} : nlohmann::json(nullptr),
      "default");
  return rows;
}

int run_policy(const PolicyArgs& args) {
  auto policy = load_machine_policy();
  if (!policy) return report_error("policy", policy.error());
  const std::vector<Row> rows = rows_of(*policy);
  const std::string source = "machine policy " + policy->path;
  if (args.json) {
    nlohmann::json values = nlohmann::json::object();
    for (const Row& row : rows) values[row.key] = {{"value", row.value}, {"source", row.set ? source : "default"}};
    emit_json({{"path", policy->path}, {"present", policy->present}, {"values", values}});
    return 0;
  }
  if (!policy->present) {
    say("No machine policy (" + policy->path + " does not exist): nothing is limited beyond each profile's settings.");
    return 0;
  }
  say("Machine policy: " + policy->path + " (profile settings can only narrow it)");
  for (const Row& row : rows) {
    std::string key = row.key + ":";
    key.resize(std::max<std::size_t>(key.size() + 1, 20), ' ');
    say("  " + key + sanitize_text(row.text) + "  [" + (row.set ? "policy file" : "default") + "]");
  }
  return 0;
}

}  // namespace

std::optional<Error> helper_refused_by_policy(std::string_view helper) {
  auto policy = load_machine_policy();
  if (!policy) return policy.error();
  if (auto allowed = check_policy_helper(*policy, helper); !allowed) {
    helpers::audit_refusal("", std::string(helper), "machine policy", sanitize_text(allowed.error().message));
    return allowed.error();
  }
  return std::nullopt;
}

void setup_policy(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PolicyArgs>();
  CLI::App* cmd = app.add_subcommand("policy", "Show the machine policy in effect and where each value comes from");
  add_json_flag(*cmd, args->json);
  cmd->callback([args, &exit_code] { exit_code = run_policy(*args); });
}

}  // namespace devicelogin::cli
