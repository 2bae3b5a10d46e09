#include "output.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <utility>
#include <vector>

#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli {

namespace {

// How this CLI sets a LoginSettings field (Error::setting names fields by their C++ names).
std::string flag_for(std::string_view setting) {
  static constexpr std::pair<std::string_view, std::string_view> kFlags[] = {
      {"profile", "--profile NAME"},
      {"issuer", "--issuer URL"},
      {"provider", "--provider NAME"},
      {"tenant", "--tenant TENANT"},
      {"client_id", "--client-id ID"},
      {"scope", "--scope SCOPES"},
      {"audience", "--audience AUDIENCE"},
      {"store", "--store NAME"},
      {"ca_file", "--ca-file FILE"},
      {"client_secret_file", "--client-secret-file FILE"},
      {"client_secret_env", "set DEVICELOGIN_CLIENT_SECRET"},
      {"endpoints.device_authorization", "--device-authorization-endpoint URL"},
      {"endpoints.authorization", "--authorization-endpoint URL"},
      {"endpoints.token", "--token-endpoint URL"},
      {"endpoints.revocation", "--revocation-endpoint URL"},
      {"api_urls", "--api-url URL"},
  };
  for (const auto& [name, flag] : kFlags) {
    if (name == setting) return std::string(flag);
  }
  return std::string(setting);
}

// Splits `text` at `separator`.
std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// "issuer|provider,client_id" -> "--issuer URL or --provider NAME, and --client-id ID".
std::string describe_settings(std::string_view settings) {
  std::string out;
  auto groups = split(settings, ',');
  for (std::size_t g = 0; g < groups.size(); ++g) {
    if (g > 0) out += g + 1 == groups.size() ? ", and " : ", ";
    auto alternatives = split(groups[g], '|');
    for (std::size_t a = 0; a < alternatives.size(); ++a) {
      if (a > 0) out += " or ";
      out += flag_for(alternatives[a]);
    }
  }
  return out;
}

}  // namespace

namespace {

// The saved profiles other than error.profile, when error.profile itself was never saved and the
// error says so (kNotLoggedIn); empty otherwise, or when they cannot be listed.
std::vector<std::string> other_saved_profiles(const Error& error) {
  if (error.code != ErrorCode::kNotLoggedIn || error.profile.empty()) return {};
  auto names = Session::profiles();
  if (!names || std::find(names->begin(), names->end(), error.profile) != names->end()) return {};
  return std::move(*names);
}

}  // namespace

std::string render_error(const Error& error) {
  std::string text = error.message;
  switch (error.remedy) {
    case Remedy::kSignIn:
      if (auto others = other_saved_profiles(error); !others.empty()) {
        // A profile that was never saved while others were (after scripts/demo.sh,
        // `status` said no profile "default" and left the newcomer to guess "demo"): name them.
        text += "; saved profile" + std::string(others.size() > 1 ? "s: " : ": ");
        for (std::size_t i = 0; i < others.size() && i < 5; ++i) text += (i > 0 ? ", " : "") + others[i];
        if (others.size() > 5) text += ", ...";
        text += "; make one the default with: devicelogin use " + others.front() + " (or pass --profile " + others.front() +
                "), or run: devicelogin login --profile " + error.profile;
      } else if (!error.profile.empty()) {
        text += "; run: devicelogin login --profile " + error.profile;
        if (!error.setting.empty()) text += " with the settings you want (" + describe_settings(error.setting) + ")";
      }
      break;
    case Remedy::kAddSettings:
      if (error.setting == "api_urls" && !error.profile.empty()) {
        // A saved profile's API base URLs are added by signing in again with them.
        text += "; add it with: devicelogin login --profile " + error.profile + " --api-url URL";
      } else if (!error.setting.empty()) {
        text += "; pass " + describe_settings(error.setting);
      }
      break;
    case Remedy::kChooseStore:
      if (!error.setting.empty()) {
        text += "; use";
        auto stores = split(error.setting, ',');
        for (std::size_t i = 0; i < stores.size(); ++i) text += (i > 0 ? " or --store " : " --store ") + std::string(stores[i]);
      }
      break;
    case Remedy::kUseBrowserFlow:
      // The browser (authorization code) flow is the sign-in such a policy leaves open (auto
      // takes it by itself where this computer has a browser).
      text += "; sign in with the browser flow instead (devicelogin login --flow browser";
      if (!error.profile.empty()) text += " --profile " + error.profile;
      text += ", on a computer with a browser), or ask your administrator to allow device-code sign-in";
      break;
    case Remedy::kNone:
    case Remedy::kFixSettings:  // the message names the wrong value
    case Remedy::kFixPermissions:
    case Remedy::kTryAgainLater:
      break;  // the message says what to do in words
  }
  return sanitize_text(text);
}

int report_error(std::string_view command, const Error& error) {
  std::string line = "devicelogin";
  if (!command.empty()) line += " " + std::string(command);
  line += ": " + render_error(error);
  say(line);
  return exit_code_for(error.code);
}

std::string json_error_name(const Error& error) {
  return error.oauth_error.empty() ? error_code_name(error.code) : error.oauth_error;
}

void emit_json(const nlohmann::json& value) {
  // Replace invalid UTF-8 rather than throwing: server text is data, never trusted.
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  // A failed write of a status line has no one left to tell; the exit code still says how it went.
  (void)std::fwrite(text.data(), 1, text.size(), stdout);
  (void)std::fflush(stdout);
}

void say(std::string_view text) {
  std::string line(text);
  line += '\n';
  (void)std::fwrite(line.data(), 1, line.size(), stderr);
  (void)std::fflush(stderr);
}

bool write_stdout(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::function<void(std::string_view)> verbose_trace_sink() {
  return [](std::string_view line) {
    if (auto note = take_secret_memory_lock_note()) say("* " + *note);
    say(sanitize_text(line));
  };
}

SessionOptions session_options(bool verbose) {
  SessionOptions options;
  if (verbose) {
    options.trace = verbose_trace_sink();
  }
  return options;
}

Result<std::string> resolve_profile(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  return Session::default_profile();
}

Result<Session> open_session(const std::string& flag_value, bool verbose, const std::string& audit_consumer,
                             const std::string& audit_detail) {
  auto name = resolve_profile(flag_value);
  if (!name) return std::unexpected(name.error());
  SessionOptions options = session_options(verbose);
  options.audit_consumer = audit_consumer.empty() ? "cli" : audit_consumer;
  options.audit_detail = audit_detail;
  return Session::open(*name, std::move(options));
}

std::string describe_expiry(const std::optional<long long>& expires_at) {
  if (!expires_at) return "unknown";
  std::time_t t = static_cast<std::time_t>(*expires_at);
  std::tm tm{};
  char buffer[64];
  if (::gmtime_r(&t, &tm) == nullptr || std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
    return "unknown";  // beyond what the calendar functions represent
  }
  long long left = *expires_at - static_cast<long long>(std::time(nullptr));
  std::string out = buffer;
  if (left <= 0) {
    out += " (expired)";
  } else if (left < 120) {
    out += " (in " + std::to_string(left) + " s)";
  } else if (left < 7200) {
    out += " (in " + std::to_string(left / 60) + " min)";
  } else {
    out += " (in " + std::to_string(left / 3600) + " h)";
  }
  return out;
}

namespace {
extern "C" void on_stop_signal(int) { request_stop(); }
}  // namespace

void install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

nlohmann::json string_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

}  // namespace devicelogin::cli
