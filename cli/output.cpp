#include "output.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>

#include "core/secret_memory.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli {

int report_error(std::string_view command, const Error& error) {
  std::string line = "devicelogin";
  if (!command.empty()) line += " " + std::string(command);
  line += ": " + sanitize_text(error.message);
  say(line);
  return exit_code_for(error.code);
}

void emit_json(const nlohmann::json& value) {
  // Replace invalid UTF-8 rather than throwing: server text is data, never trusted.
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void say(std::string_view text) {
  std::string line(text);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::function<void(std::string_view)> verbose_trace_sink() {
  return [](std::string_view line) {
    if (auto note = take_secret_memory_lock_note()) say("* " + *note);
    say(sanitize_text(line));
  };
}

std::unique_ptr<HttpClient> make_http(const std::string& ca_file, bool verbose) {
  HttpOptions options;
  options.ca_file = ca_file;
  if (verbose) options.trace = verbose_trace_sink();
  return make_curl_http_client(std::move(options));
}

Result<OpenedProfile> open_profile(const std::string& name) {
  auto profiles = ProfileStore::from_environment();
  if (!profiles) return std::unexpected(profiles.error());
  auto profile = profiles->load(name);
  if (!profile) return std::unexpected(profile.error());
  auto store = open_token_store(profile->store);
  if (!store) return std::unexpected(store.error());
  return OpenedProfile{std::move(*profile), std::move(*store)};
}

std::string describe_expiry(const std::optional<long long>& expires_at) {
  if (!expires_at) return "unknown";
  std::time_t t = static_cast<std::time_t>(*expires_at);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S UTC", &tm);
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
