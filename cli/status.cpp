#include <algorithm>

#include "commands.hpp"
#include "core/redaction.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct StatusArgs {
  std::string profile = "default";
  bool json = false;
};

int run_status(const StatusArgs& args) {
  auto opened = open_profile(args.profile);
  if (!opened) {
    if (opened.error().code == ErrorCode::kNotLoggedIn && args.json) {
      emit_json({{"profile", args.profile}, {"issuer", nullptr}, {"logged_in", false}, {"expires_at", nullptr},
                 {"scope", nullptr}, {"subject", nullptr}, {"store", nullptr},
                 {"relogin_required", false}, {"clock_offset_s", nullptr}, {"stored_bytes", nullptr},
                 {"quota_used_bytes", nullptr}, {"quota_left_bytes", nullptr}});
    }
    return report_error("status", opened.error());
  }
  auto loaded = opened->store->load(args.profile);
  if (!loaded) return report_error("status", loaded.error());
  std::optional<TokenInfo> info;
  if (*loaded) info = token_info(**loaded);
  // Tokens issued to another server or client than the profile names are not used (exit 5).
  const bool bound_elsewhere =
      *loaded && !bound_to(**loaded, opened->profile.endpoints.token, opened->profile.client_id);
  if (bound_elsewhere) info.reset();
  const std::string store_name = opened->store->name();
  // The newest word from the server's clock: the last refresh's, else the login's.
  std::optional<long long> clock_offset = *loaded ? (**loaded).clock_offset_s : std::nullopt;
  if (!clock_offset) clock_offset = opened->profile.clock_offset_s;
  // What the set takes in its store (and the kernel key quota): best effort, never fails status.
  StoreUsage usage;
  if (auto measured = opened->store->usage(args.profile)) usage = *measured;
  std::optional<long long> quota_left;
  if (usage.quota_used_bytes && usage.quota_max_bytes) {
    quota_left = std::max(0LL, *usage.quota_max_bytes - *usage.quota_used_bytes);
  }
  auto number_or_null = [](const auto& value) { return value ? nlohmann::json(*value) : nlohmann::json(nullptr); };
  if (args.json) {
    emit_json({{"profile", args.profile},
               {"issuer", string_or_null(opened->profile.issuer)},
               {"logged_in", info.has_value()},
               {"expires_at", info && info->expires_at ? nlohmann::json(*info->expires_at) : nlohmann::json(nullptr)},
               {"scope", info ? string_or_null(info->scope) : nlohmann::json(nullptr)},
               {"subject", info ? string_or_null(info->subject) : nlohmann::json(nullptr)},
               {"store", store_name},
               {"relogin_required", bound_elsewhere},
               {"clock_offset_s", clock_offset ? nlohmann::json(*clock_offset) : nlohmann::json(nullptr)},
               {"stored_bytes", number_or_null(usage.set_bytes)},
               {"quota_used_bytes", number_or_null(usage.quota_used_bytes)},
               {"quota_left_bytes", number_or_null(quota_left)}});
  } else {
    say("Profile:  " + args.profile);
    say("Issuer:   " + (opened->profile.issuer.empty() ? std::string("(none)") : opened->profile.issuer));
    say("Client:   " + opened->profile.client_id);
    say("Store:    " + store_name + " (" + opened->store->location(args.profile) + ")");
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
      say("Expires:  " + describe_expiry(info->expires_at));
      say("Scope:    " + (info->scope.empty() ? std::string("(not reported)") : info->scope));
      say(std::string("Refresh:  ") + (info->has_refresh_token ? "yes" : "no (re-login when the token expires)"));
    } else if (bound_elsewhere) {
      say("Status:   re-login required: the stored tokens were issued by " + redact_url((**loaded).token_endpoint) +
          " to client " + (**loaded).client_id + ", not to this profile's server and client; run: devicelogin login --profile " +
          args.profile);
    } else {
      say("Status:   not logged in; run: devicelogin login --profile " + args.profile);
    }
  }
  return info ? 0 : exit_code_for(bound_elsewhere ? ErrorCode::kReloginRequired : ErrorCode::kNotLoggedIn);
}

}  // namespace

void setup_status(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* cmd = app.add_subcommand("status", "Show whether a profile is signed in (exit 5 when not)");
  cmd->add_option("--profile", args->profile, "Profile name (default: default)");
  cmd->add_flag("--json", args->json, "JSON on stdout");
  cmd->callback([args, &exit_code] { exit_code = run_status(*args); });
}

}  // namespace devicelogin::cli
