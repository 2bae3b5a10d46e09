#include <algorithm>
#include <ctime>

#include "devicelogin/advanced/token_store.hpp"
#include "commands.hpp"
#include "inventory.hpp"
#include "output.hpp"
#include "setup_support.hpp"

namespace devicelogin::cli {
namespace {

// "7 h 12 min", "12 min", "40 s": a duration for the policy's limits.
std::string describe_duration(long long seconds) {
  if (seconds < 60) return std::to_string(std::max(0LL, seconds)) + " s";
  const long long minutes = seconds / 60;
  if (minutes < 60) return std::to_string(minutes) + " min";
  return std::to_string(minutes / 60) + " h" + (minutes % 60 != 0 ? " " + std::to_string(minutes % 60) + " min" : "");
}

// "session ends in 7 h 12 min, idle limit 8 h", or empty when the machine policy sets no limit.
std::string describe_limits(const SessionStatus& status) {
  const long long now = static_cast<long long>(std::time(nullptr));
  std::string text;
  if (status.session_ends_at) text = "session ends in " + describe_duration(*status.session_ends_at - now);
  if (status.idle_limit_s) {
    text += (text.empty() ? "" : ", ") + std::string("idle limit ") + describe_duration(*status.idle_limit_s);
    if (status.idle_ends_at) text += " (ends in " + describe_duration(*status.idle_ends_at - now) + " without use)";
  }
  return text;
}

struct StatusArgs {
  std::string profile;  // empty: the default profile
  bool json = false;
  bool all = false;
};

int run_status(const StatusArgs& args) {
  if (args.all) return run_status_all(args.json);
  auto resolved = resolve_profile(args.profile);
  if (!resolved) return report_error("status", resolved.error());
  const std::string& name = *resolved;
  auto session = Session::open(name);
  auto status = session ? session->status() : Result<SessionStatus>(std::unexpected(session.error()));
  if (!status) {
    if (status.error().code == ErrorCode::kNotLoggedIn && args.json) {
      emit_json({{"profile", name}, {"issuer", nullptr}, {"logged_in", false}, {"token_type", nullptr}, {"jkt", nullptr},
                 {"expires_at", nullptr},
                 {"scope", nullptr}, {"subject", nullptr}, {"store", nullptr},
                 {"relogin_required", false}, {"clock_offset_s", nullptr}, {"stored_bytes", nullptr},
                 {"quota_used_bytes", nullptr}, {"quota_left_bytes", nullptr}});
    }
    return report_error("status", status.error());
  }
  const std::optional<TokenInfo>& info = status->tokens;
  const StoreUsage& usage = status->usage;
  std::optional<long long> quota_left;
  if (usage.quota_used_bytes && usage.quota_max_bytes) {
    quota_left = std::max(0LL, *usage.quota_max_bytes - *usage.quota_used_bytes);
  }
  auto number_or_null = [](const auto& value) { return value ? nlohmann::json(*value) : nlohmann::json(nullptr); };
  if (args.json) {
    emit_json({{"profile", name},
               {"issuer", string_or_null(status->issuer)},
               {"logged_in", status->logged_in()},
               {"token_type", info ? string_or_null(info->token_type) : nlohmann::json(nullptr)},
               {"jkt", info ? string_or_null(info->jkt) : nlohmann::json(nullptr)},
               {"expires_at", info && info->expires_at ? nlohmann::json(*info->expires_at) : nlohmann::json(nullptr)},
               {"scope", info ? string_or_null(info->scope) : nlohmann::json(nullptr)},
               {"subject", info ? string_or_null(info->subject) : nlohmann::json(nullptr)},
               {"store", status->store},
               {"relogin_required", status->relogin_required},
               {"clock_offset_s", number_or_null(status->clock_offset_s)},
               {"stored_bytes", number_or_null(usage.set_bytes)},
               {"quota_used_bytes", number_or_null(usage.quota_used_bytes)},
               {"quota_left_bytes", number_or_null(quota_left)},
               {"session_ends_at", number_or_null(status->session_ends_at)},
               {"idle_ends_at", number_or_null(status->idle_ends_at)},
               {"idle_limit_s", number_or_null(status->idle_limit_s)}});
  } else {
    say("Profile:  " + name);
    say("Issuer:   " + (status->issuer.empty() ? std::string("(none)") : status->issuer));
    say("Client:   " + status->client_id);
    say("Store:    " + status->store + " (" + status->store_location + ")");
    if (usage.set_bytes) {
      say("Size:     " + std::to_string(*usage.set_bytes) + " bytes (a set may take up to " +
          std::to_string(kMaxTokenSetBytes) + ")");
    }
    if (quota_left) {
      say("Quota:    kernel keys of this user: " + std::to_string(*usage.quota_used_bytes) + " of " +
          std::to_string(*usage.quota_max_bytes) + " bytes used, " + std::to_string(*quota_left) + " left");
    }
    if (info) {
      say("Status:   logged in" + (info->subject.empty() ? std::string() : " as " + info->subject));
      say("Type:     " + sanitize_text(info->token_type) +
          (info->jkt.empty() ? std::string() : " (bound to the key with thumbprint " + info->jkt + ")"));
      say("Expires:  " + describe_expiry(info->expires_at));
      say("Scope:    " + (info->scope.empty() ? std::string("(not reported)") : info->scope));
      say(std::string("Refresh:  ") + (info->has_refresh_token ? "yes" : "no (re-login when the token expires)"));
      if (std::string limits = describe_limits(*status); !limits.empty()) say("Policy:   " + limits);
    } else if (status->relogin_required) {
      say("Status:   re-login required: " + sanitize_text(status->relogin_reason) +
          "; run: devicelogin login --profile " + name);
    } else {
      say("Status:   not logged in; run: devicelogin login --profile " + name);
    }
  }
  // One line when another credential helper would keep the token git gets for a host.
  if (info) warn_about_other_git_helpers(name);
  return info ? 0 : exit_code_for(status->relogin_required ? ErrorCode::kReloginRequired : ErrorCode::kNotLoggedIn);
}

}  // namespace

void setup_status(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* cmd = app.add_subcommand("status", "Show whether a profile is signed in (exit 5 when not)");
  auto* profile = add_profile_flag(*cmd, args->profile);
  cmd->add_flag("--all", args->all,
                "Every token set in every store (file, kernel keyring, Secret Service), including sets no profile names")
      ->excludes(profile);
  add_json_flag(*cmd, args->json);
  cmd->callback([args, &exit_code] { exit_code = run_status(*args); });
}

}  // namespace devicelogin::cli
