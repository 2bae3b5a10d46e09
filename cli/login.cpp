#include <fcntl.h>
#include <qrencode.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "devicelogin/advanced/token_store.hpp"
#include "commands.hpp"
#include "login.hpp"
#include "output.hpp"
#include "process.hpp"

extern char** environ;

namespace devicelogin::cli {
namespace {

// A QR code drawn with half blocks, two module rows per text line, light modules as blocks so
// that it scans on the usual dark terminal background. Empty when encoding fails.
std::string render_qr(const std::string& text) {
  QRcode* code = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_L, QR_MODE_8, 1);
  if (code == nullptr) return {};
  const int size = code->width;
  constexpr int kQuiet = 2;
  auto dark = [&](int x, int y) {
    if (x < 0 || y < 0 || x >= size || y >= size) return false;
    return (code->data[y * size + x] & 1) != 0;
  };
  std::string out;
  for (int y = -kQuiet; y < size + kQuiet; y += 2) {
    out += "    ";
    for (int x = -kQuiet; x < size + kQuiet; ++x) {
      bool top_light = !dark(x, y);
      bool bottom_light = y + 1 < size + kQuiet ? !dark(x, y + 1) : false;
      if (top_light && bottom_light) out += "\u2588";
      else if (top_light) out += "\u2580";
      else if (bottom_light) out += "\u2584";
      else out += " ";
    }
    out += "\n";
  }
  QRcode_free(code);
  return out;
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read before any thread starts
  return value == nullptr ? std::string() : std::string(value);
}

bool has_display() {
  return !env_or_empty("DISPLAY").empty() || !env_or_empty("WAYLAND_DISPLAY").empty();
}

// xdg-open with an argv (no shell), its output discarded, and an environment without the client
// secret variables; best effort. It is not waited for (start_detached): without a desktop,
// xdg-open may run the browser in the foreground, and polling must go on meanwhile. The browser
// gets nothing of ours: no socket to the authorization server, no lock file, no token file.
void open_browser(const std::string& url, const Profile& profile) {
  std::vector<std::string> kept;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view variable(*entry);
    auto is = [&](std::string_view name) {
      return !name.empty() && variable.size() > name.size() && variable.starts_with(name) && variable[name.size()] == '=';
    };
    if (is("DEVICELOGIN_CLIENT_SECRET") || is(profile.client_secret_env)) continue;
    kept.emplace_back(variable);
  }
  const std::string program = find_on_path("xdg-open");
  if (program.empty()) return;
  start_detached(program, url, std::move(kept));
}

// Next to every code: device-code phishing hands the victim a code that the attacker's own login
// asked for (RFC 8628 §5.4), and only the user can tell that they did not start this one.
constexpr std::string_view kStartedItYourself =
    "Only continue if you started this sign-in. If a website, an e-mail or another person gave you this code, stop.";

std::string minutes_seconds(long long seconds) {
  if (seconds < 0) seconds = 0;
  std::string secs = std::to_string(seconds % 60);
  return std::to_string(seconds / 60) + ":" + (secs.size() < 2 ? "0" + secs : secs);
}

// "45 s", "3 min 10 s", "10 min", "1 h 10 min".
std::string describe_duration(long long seconds) {
  if (seconds < 60) return std::to_string(seconds) + " s";
  if (seconds < 3600) {
    return std::to_string(seconds / 60) + " min" + (seconds % 60 == 0 ? "" : " " + std::to_string(seconds % 60) + " s");
  }
  return std::to_string(seconds / 3600) + " h" +
         (seconds % 3600 / 60 == 0 ? "" : " " + std::to_string(seconds % 3600 / 60) + " min");
}

// host[:port] of a URL, without userinfo; the URL itself when it has no "://".
std::string url_authority(const std::string& url) {
  auto start = url.find("://");
  if (start == std::string::npos) return url;
  start += 3;
  std::string authority = url.substr(start, url.find_first_of("/?#", start) - start);
  if (auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  return authority;
}

// Once per login, when the local clock is more than a minute off the server's: the library has
// adjusted for it, but the user's other programs (and TLS, Kerberos, TOTP) may not.
void warn_about_clock(const std::optional<long long>& offset, const Profile& profile) {
  if (!offset || (*offset >= -60 && *offset <= 60)) return;
  const long long off_by = *offset < 0 ? -*offset : *offset;
  say("warning: your clock is " + describe_duration(off_by) + (*offset > 0 ? " behind " : " ahead of ") +
      url_authority(profile.endpoints.token) + "'s; devicelogin adjusts for it, but other programs may not");
}

}  // namespace

int run_login(LoginArgs& args) {
  const bool interactive_stderr = ::isatty(STDERR_FILENO) == 1;
  auto fail_with = [&](const Error& error) {
    if (args.json) {
      emit_json({{"event", "error"}, {"error", json_error_name(error)}, {"message", render_error(error)}});
    }
    return report_error("login", error);
  };
  auto session = open_session(args.settings.profile, args.verbose);
  if (!session) return fail_with(session.error());
  LoginSettings settings = args.settings;
  // Asked not to open a browser: auto takes the device flow, which needs none here.
  if (args.no_browser) settings.local_browser = false;
  settings.store = args.store;  // empty: auto for a new profile, the profile's store otherwise

  install_stop_signals();
  // The profile being signed in, as prepared: the browser is started without its secret variable.
  Profile signing_in;
  LoginObserver observer;
  observer.on_start = [&](const Profile& profile, const TokenStore& store) {
    signing_in = profile;
    if (profile.store == "file" && args.store == "file") {
      // Chosen explicitly, never by fallback: say once where the plaintext file lives.
      say("warning: tokens will be kept in a plaintext file readable only by you: " + store.location(profile.name));
    }
  };
  observer.on_code = [&](const DeviceCodePrompt& prompt) {
    if (args.json) {
      emit_json({{"event", "device_code"},
                 {"user_code", prompt.user_code},
                 {"verification_uri", prompt.verification_uri},
                 {"verification_uri_complete", string_or_null(prompt.verification_uri_complete)},
                 {"verification_host", prompt.verification_host},
                 {"host_warning", string_or_null(prompt.host_warning)},
                 {"warning", kStartedItYourself},
                 {"expires_in", prompt.expires_in},
                 {"interval", prompt.interval}});
    }
    if (!prompt.message.empty() && !args.quiet) say(prompt.message);
    // The code is always shown, also when a link carries it: the user compares it with the page.
    say("To sign in, open " + prompt.verification_uri + " in a browser and enter the code:\n\n    " +
        prompt.user_code + "\n");
    // Where the approval happens, so that a page elsewhere stands out (RFC 8628 §5.4).
    const std::string host = interactive_stderr ? "\x1b[1m" + prompt.verification_host + "\x1b[0m" : prompt.verification_host;
    say("You will approve at: " + host);
    if (!prompt.host_warning.empty()) say("warning: " + prompt.host_warning);
    say(kStartedItYourself);
    if (!prompt.verification_uri_complete.empty()) {
      say("Or open " + prompt.verification_uri_complete + " (check that it shows the code " + prompt.user_code + ").");
    }
    const std::string& link =
        prompt.verification_uri_complete.empty() ? prompt.verification_uri : prompt.verification_uri_complete;
    if (!args.no_qr && !args.quiet && interactive_stderr) {
      std::string qr = render_qr(link);
      if (!qr.empty()) say("\n" + qr);
    }
    if (!args.no_browser && has_display()) {
      if (!args.quiet) say("Opening your browser...");
      open_browser(link, signing_in);
    }
    if (!args.quiet) {
      say("The code expires in " + minutes_seconds(prompt.expires_in) + ". Waiting for approval (Ctrl-C cancels)...");
    }
  };
  observer.on_browser = [&](const BrowserPrompt& prompt) {
    if (args.json) {
      emit_json({{"event", "browser"},
                 {"authorization_url", prompt.authorization_url},
                 {"redirect_uri", prompt.redirect_uri},
                 {"authorization_host", prompt.authorization_host},
                 {"expires_in", prompt.expires_in}});
    }
    say("To sign in, open this address in your browser on this computer:\n\n    " + prompt.authorization_url + "\n");
    const std::string host =
        interactive_stderr ? "\x1b[1m" + prompt.authorization_host + "\x1b[0m" : prompt.authorization_host;
    say("You will sign in at: " + host);
    // A text console with a browser the user named counts too (xdg-open hands the URL to it).
    if (!args.no_browser && (has_display() || !env_or_empty("BROWSER").empty())) {
      if (!args.quiet) say("Opening your browser...");
      open_browser(prompt.authorization_url, signing_in);
    }
    if (!args.quiet) {
      say("Waiting up to " + describe_duration(prompt.expires_in) + " for the browser to come back (Ctrl-C cancels)...");
    }
  };
  observer.on_flow_change = [&](const Error& why) {
    if (args.json) {
      emit_json({{"event", "flow_change"}, {"flow", "browser"}, {"reason", json_error_name(why)}, {"message", why.message}});
    }
    say(why.message + "; signing in with the browser instead.");
  };
  observer.on_replaced = [&](const LogoutOutcome& outcome) {
    say(outcome.revoked ? std::string("The tokens of the previous sign-in were revoked.")
                        : "The tokens of the previous sign-in were replaced but not revoked: " + outcome.revocation_problem);
  };
  observer.on_waiting = [&](long long seconds_left) {
    if (interactive_stderr && !args.json && !args.quiet) {
      std::string line = "\r\x1b[2KWaiting for approval... code expires in " + minutes_seconds(seconds_left);
      (void)std::fwrite(line.data(), 1, line.size(), stderr);  // a progress line: nothing to do if stderr fails
      (void)std::fflush(stderr);
    }
  };
  observer.on_previous_store = [&](const std::string& previous_store, const Result<LogoutOutcome>& dropped) {
    if (!dropped) {
      say("warning: could not delete the tokens left in the previous store (" + previous_store +
          "): " + render_error(dropped.error()));
    } else if (dropped->deleted) {
      say(dropped->revoked ? "The tokens of the previous sign-in (store " + previous_store + ") were revoked and deleted."
                           : "The tokens of the previous sign-in (store " + previous_store +
                                 ") were deleted but not revoked: " + dropped->revocation_problem);
    }
  };
  auto info = session->login(settings, observer);
  if (interactive_stderr && !args.json && !args.quiet) (void)std::fputs("\r\x1b[2K", stderr);
  if (!info) {
    Error error = info.error();
    // The way out of a turned-off device flow is a sign-in of this same profile.
    if (error.remedy == Remedy::kUseBrowserFlow && error.profile.empty()) error.profile = session->profile().name;
    return fail_with(error);
  }
  const Profile& profile = session->profile();
  warn_about_clock(info->clock_offset_s, profile);
  if (args.json) {
    emit_json({{"event", "authorized"},
               {"profile", profile.name},
               {"expires_at", info->expires_at ? nlohmann::json(*info->expires_at) : nlohmann::json(nullptr)},
               {"scope", string_or_null(info->scope)},
               {"subject", string_or_null(info->subject)}});
  }
  if (args.quiet) return 0;
  std::string who = info->subject.empty() ? "" : " as " + info->subject;
  // The profile is named unless a plain `devicelogin token` reads it (it is the default).
  auto default_profile = resolve_profile("");
  const bool is_default = default_profile && *default_profile == profile.name;
  say("Signed in" + who + " (profile " + profile.name + "). Access token expires " + describe_expiry(info->expires_at) +
      ". Get it with: devicelogin token" + (is_default ? "" : " --profile " + profile.name));
  // After the sign-in, never before an error: a failed login prints its one line only.
  if (!profile.dpop && !profile.dpop_algs.empty()) {
    say("note: the server can bind tokens to a key (DPoP), so that a copied token is useless; sign in with --dpop "
        "to use it");
  }
  return 0;
}

void setup_login(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<LoginArgs>();
  args->settings.profile.clear();  // the default profile unless --profile names one
  CLI::App* cmd = app.add_subcommand("login", "Sign in (device flow or browser flow) and store the tokens");
  auto& s = args->settings;
  add_profile_flag(*cmd, s.profile);
  cmd->add_option("--issuer", s.issuer, "Authorization server issuer URL (discovery)");
  cmd->add_option("--provider", s.provider, "Preset: github, google, microsoft, workos, auth0, okta, keycloak");
  cmd->add_option("--tenant", s.tenant, "Microsoft Entra tenant (default: organizations)");
  cmd->add_option("--client-id", s.client_id, "OAuth client id");
  cmd->add_option("--scope", s.scope, "Space-separated scopes");
  cmd->add_option("--audience", s.audience, "API audience (Auth0)");
  cmd->add_option("--client-secret-file", s.client_secret_file,
                  "File holding the client secret (mode 0600); or set DEVICELOGIN_CLIENT_SECRET");
  cmd->add_option("--device-authorization-endpoint", s.endpoints.device_authorization, "Override the endpoint");
  cmd->add_option("--token-endpoint", s.endpoints.token, "Override the endpoint");
  cmd->add_option("--revocation-endpoint", s.endpoints.revocation, "Override the endpoint");
  cmd->add_option("--authorization-endpoint", s.endpoints.authorization, "Override the endpoint (browser flow)");
  cmd->add_option_function<std::string>(
         "--flow",
         [args](const std::string& name) {
           // The validator below has accepted only the three names.
           args->settings.flow = parse_login_flow(name);
         },
         "How to sign in: auto (the device flow; the browser flow when the server has no device flow or has it "
         "turned off for the app, and this computer has a browser), device, or browser (the browser on this "
         "computer, a loopback redirect); remembered in the profile (default: auto, or the profile's)")
      ->check(CLI::IsMember({"auto", "device", "browser"}));
  cmd->add_option("--timeout", s.browser_timeout_s,
                  "Browser flow: seconds to wait for the browser to come back (default 300)")
      ->check(CLI::Range(1LL, 86400LL));
  cmd->add_option("--api-url", s.api_urls,
                  "Base URL of an API the token is for (repeatable; added to the profile's): `devicelogin api PATH` "
                  "resolves against the first, and the token is sent only to these origins and the userinfo endpoint")
      ->allow_extra_args(false);
  cmd->add_option("--ca-file", s.ca_file, "Extra CA bundle (PEM) for TLS verification");
  cmd->add_option("--store", args->store,
                  "Where tokens live: auto (Secret Service, else kernel keyring), secret-service, kernel-keyring, file "
                  "(default: auto for a new profile, the profile's store otherwise)");
  CLI::Option* dpop = cmd->add_flag_callback(
      "--dpop", [args] { args->settings.dpop = true; },
      "Bind the tokens to a key kept with them (DPoP): a copied token is useless without it (kept for later "
      "logins of the profile)");
  cmd->add_flag_callback("--no-dpop", [args] { args->settings.dpop = false; }, "Turn --dpop off for the profile")
      ->excludes(dpop);
  cmd->add_flag("--no-browser", args->no_browser, "Do not open a browser");
  cmd->add_flag("--no-qr", args->no_qr, "Do not draw the QR code");
  cmd->add_flag("--quiet", args->quiet,
                "Print only what approving needs (the link, the host, the code, the warnings) and errors");
  add_json_flag(*cmd, args->json, true);
  add_verbose_flag(*cmd, args->verbose);
  cmd->callback([args, &exit_code] { exit_code = run_login(*args); });
}

}  // namespace devicelogin::cli
