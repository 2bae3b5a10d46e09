// `devicelogin demo`: the whole product on one machine. Starts the development server in-process,
// signs in against it, calls its userinfo endpoint with the new token (the "call your API" step),
// and keeps serving so that `devicelogin token --profile demo` works until Ctrl-C.
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "devserver/server.hpp"
#include "login.hpp"
#include "output.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli {
namespace {

struct DemoArgs {
  LoginArgs login;
  std::optional<double> auto_approve;
  long long interval = 2;
  bool exit_after_login = false;
};

int run_demo(DemoArgs& args) {
  devserver::ServerOptions options;
  options.interval = args.interval;
  options.auto_approve_delay = args.auto_approve;
  auto server = devserver::Server::start(options);
  if (!server) return report_error("demo", server.error());
  say("Started the development authorization server at " + (*server)->issuer() +
      " (users: alice/alice, bob/bob).");

  LoginArgs& login = args.login;
  login.settings.issuer = (*server)->issuer();
  login.settings.client_id = std::string(devserver::kDemoClientId);
  if (login.settings.scope.empty()) login.settings.scope = "openid profile offline_access";
  if (args.auto_approve) login.no_browser = true;  // nobody needs to look at the page
  if (int code = run_login(login); code != 0) return code;

  // The "call your API" step: what a CLI does with its token.
  auto session = open_session(login.settings.profile, login.verbose);
  if (!session) return report_error("demo", session.error());
  const std::string userinfo_url = session->profile().endpoints.userinfo;
  auto response = session->get(userinfo_url, {{"Accept", "application/json"}});
  if (!response) return report_error("demo", response.error());
  if (response->status != 200) {
    return report_error("demo", Error{ErrorCode::kServer, "userinfo answered HTTP " + std::to_string(response->status), "", response->status});
  }
  auto claims = json_nesting_within(response->body.reveal()) ? nlohmann::json::parse(response->body.reveal(), nullptr, false) : nlohmann::json(nlohmann::json::value_t::discarded);
  if (claims.is_discarded() || !claims.is_object()) {
    return report_error("demo", Error{ErrorCode::kServer, "userinfo did not answer a JSON object", "", 0});
  }
  auto text = [&](const char* key) {
    return claims.contains(key) && claims[key].is_string() ? sanitize_text(claims[key].get<std::string>()) : std::string();
  };
  say("Called " + userinfo_url + " with the access token: you are " + text("name") + " (" +
      (text("preferred_username").empty() ? text("sub") : text("preferred_username")) + ").");
  if (login.json) {
    emit_json({{"event", "userinfo"}, {"sub", text("sub")}, {"name", string_or_null(text("name"))},
               {"preferred_username", string_or_null(text("preferred_username"))}});
  }
  if (args.exit_after_login || args.auto_approve) {
    say("Done. The server stops now; the cached token stays usable with `devicelogin token --profile " +
        login.settings.profile + "` until it expires.");
    return 0;
  }
  say("The server keeps running so that `devicelogin token --profile " + login.settings.profile +
      "` (and its refresh) works; press Ctrl-C to stop it.");
  install_stop_signals();
  SystemClock clock;
  while (!stop_requested()) clock.sleep_until(clock.now() + Seconds(3600));
  say("Stopped the development server.");
  return 0;
}

}  // namespace

void setup_demo(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DemoArgs>();
  args->login.settings.profile = "demo";
  CLI::App* cmd = app.add_subcommand(
      "demo", "Run the whole device login against an embedded development server, then call its API");
  cmd->add_option("--auto-approve", args->auto_approve,
                  "Approve the code automatically after this many seconds (unattended run)")
      ->expected(0, 1)
      ->default_str("0");
  cmd->add_option("--interval", args->interval, "Polling interval the server asks for (default 2)");
  add_profile_flag(*cmd, args->login.settings.profile);
  cmd->add_flag("--exit", args->exit_after_login, "Stop the server after the API call");
  cmd->add_option("--store", args->login.store, "Token store, as for login (default: auto)");
  cmd->add_flag("--no-browser", args->login.no_browser, "Do not open a browser");
  cmd->add_flag("--no-qr", args->login.no_qr, "Do not draw the QR code");
  add_json_flag(*cmd, args->login.json, true);
  add_verbose_flag(*cmd, args->login.verbose);
  cmd->callback([args, &exit_code] { exit_code = run_demo(*args); });
}

}  // namespace devicelogin::cli
