// `devicelogin serve`: runs the development authorization server until SIGINT or SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "devicelogin/sanitize.hpp"
#include "output.hpp"
#include "devserver/server.hpp"

namespace devicelogin::cli {

namespace {

struct ServeFlags {
  devserver::ServerOptions options;
  std::vector<std::string> auto_approve;
  bool json = false;
  bool verbose = false;
};

int run_serve(ServeFlags& flags, bool auto_approve_given) {
  devserver::ServerOptions& options = flags.options;
  if (auto_approve_given) {
    double delay = 0;
    if (!flags.auto_approve.empty() && !flags.auto_approve.front().empty()) {
      const std::string& text = flags.auto_approve.front();
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), delay);
      if (ec != std::errc{} || end != text.data() + text.size()) {
        return report_error("serve", Error{ErrorCode::kUsage, "--auto-approve takes a delay in seconds, e.g. --auto-approve=2"});
      }
    }
    options.auto_approve_delay = delay;
  }
  static std::mutex log_mutex;
  if (flags.verbose) {
    options.log = [](std::string_view line) {
      std::lock_guard lock(log_mutex);
      std::cerr << "devicelogin serve: " << line << '\n';
    };
  }

  // Block the stop signals before any server thread exists, so that every thread inherits the
  // mask and sigwait() below is the only place they are delivered.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);

  auto server = devserver::Server::start(std::move(options));
  if (!server) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    return report_error("serve", server.error());
  }
  const std::string issuer = (*server)->issuer();
  if (flags.json) {
    nlohmann::json line = {{"issuer", issuer}, {"port", (*server)->port()}};
    std::cout << line.dump() << '\n' << std::flush;
  } else {
    std::cout << issuer << '\n' << std::flush;
  }
  // The users as the server has them (this line once read the options after they had
  // moved into the server, through the `options` alias, and so always announced alice and bob).
  // Only the demo users' passwords are shown: they are the documented demo ones.
  std::string announced = "users alice/alice and bob/bob";
  if (!(*server)->demo_users()) {
    announced = "users";
    const std::vector<std::string> users = (*server)->usernames();
    for (std::size_t i = 0; i < users.size(); ++i) announced += (i == 0 ? " " : ", ") + sanitize_text(users[i]);
  }
  std::cerr << "devicelogin serve: listening on " << issuer << " (approval page " << issuer
            << "/device, client_id " << devserver::kDemoClientId << ", " << announced << "); Ctrl-C stops it\n";

  int received = 0;
  sigwait(&stop_signals, &received);
  (*server)->stop();
  server->reset();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (flags.verbose) std::cerr << "devicelogin serve: stopped\n";
  return 0;
}

}  // namespace

void setup_serve(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  devserver::ServerOptions& o = flags->options;
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the development authorization server (RFC 8628 device flow, authorization code with PKCE "
      "on loopback redirects, refresh, revocation, introspection, userinfo, JWKS and an approval page) "
      "until Ctrl-C. Prints the issuer URL "
      "as the first line of stdout.");
  serve->add_option("--host", o.host, "Address to listen on (loopback unless --allow-non-loopback)")
      ->capture_default_str();
  serve->add_option("--port", o.port, "Port to listen on; 0 picks a free one")->capture_default_str();
  serve->add_flag("--allow-non-loopback", o.allow_non_loopback,
                  "Allow a --host outside 127.0.0.0/8, ::1 and localhost");
  serve->add_option("--issuer", o.issuer,
                    "Public base URL to advertise instead of http://HOST:PORT (behind a proxy)");
  serve->add_option("--config", o.config_file,
                    "JSON file: {\"clients\":[{client_id, client_secret?, name?, scopes?, redirect_uris?}], "
                    "\"users\":[{username, password, name?}]}; users replace alice and bob");
  serve->add_option("--interval", o.interval,
                    "Seconds a client must wait between polls (RFC 8628 interval)")
      ->capture_default_str();
  serve->add_option("--code-ttl", o.code_ttl, "Device code lifetime in seconds")->capture_default_str();
  serve->add_option("--auth-code-ttl", o.auth_code_ttl, "Authorization code lifetime in seconds (1-600)")
      ->capture_default_str();
  serve->add_option("--access-token-ttl", o.access_token_ttl, "Access token lifetime in seconds")
      ->capture_default_str();
  serve->add_option("--refresh-token-ttl", o.refresh_token_ttl, "Refresh token lifetime in seconds")
      ->capture_default_str();
  serve->add_flag("--omit-expires-in", o.omit_expires_in,
                  "Send token responses without expires_in (as WorkOS): the access token's JWT exp alone "
                  "says when it expires");
  serve->add_flag("--dpop-nonce", o.dpop_nonce,
                  "Require DPoP proofs to carry a server nonce (RFC 9449 use_dpop_nonce, rotated every 5 minutes)");
  serve->add_option("--auto-approve", flags->auto_approve,
                    "Approve every code as the first user after DELAY seconds (default 0), for "
                    "unattended runs: --auto-approve or --auto-approve=DELAY")
      ->expected(0, 1)
      ->type_name("[DELAY]");
  serve->add_option("--slow-down-every", o.slow_down_every,
                    "Answer every Nth poll of a device code with slow_down (0 = never)")
      ->capture_default_str();
  serve->add_option("--fail-rate-500", o.fail_rate_500,
                    "Fraction (0-1) of device/token requests answered 500 server_error")
      ->capture_default_str();
  serve->add_option("--fail-rate-503", o.fail_rate_503,
                    "Fraction (0-1) of device/token requests answered 503 temporarily_unavailable")
      ->capture_default_str();
  serve->add_option("--latency-ms", o.latency_ms, "Delay added to every device/token request")
      ->capture_default_str();
  serve->add_option("--drop-rate", o.drop_rate,
                    "Fraction (0-1) of device/token requests whose connection is closed unanswered")
      ->capture_default_str();
  serve->add_option("--hang-up-polls", o.hang_up_polls,
                    "Read the first N device-code polls whole, then close their connection unanswered")
      ->capture_default_str();
  serve->add_option("--hang-up-refreshes", o.hang_up_refreshes,
                    "Read the first N refresh_token requests whole, then close their connection unanswered")
      ->capture_default_str();
  serve->add_option("--keep-alive", o.keep_alive_seconds,
                    "Seconds an idle connection is kept open (1-60)")
      ->capture_default_str();
  serve->add_option("--max-codes", o.max_outstanding_codes,
                    "Outstanding device codes kept at once; more are refused with 503")
      ->capture_default_str();
  serve->add_flag("--json", flags->json, "Print {\"issuer\":...,\"port\":...} as one JSON line instead");
  serve->add_flag("-v,--verbose", flags->verbose,
                  "Log events (codes issued, approvals, tokens issued, reuse detected) to stderr");
  CLI::Option* auto_option = serve->get_option("--auto-approve");
  serve->callback([flags, auto_option, &exit_code] {
    exit_code = run_serve(*flags, auto_option->count() > 0);
  });
}

}  // namespace devicelogin::cli
