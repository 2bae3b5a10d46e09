#pragma once
// Shared pieces of the subcommands: error lines, JSON lines, the HTTP client with its redacted
// trace, profile + store opening, and Ctrl-C handling.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/session.hpp"
#include "devicelogin/token_store.hpp"

namespace devicelogin::cli {

// Prints `devicelogin <command>: <message>` on stderr (one line, control characters removed)
// and returns the error's exit code.
int report_error(std::string_view command, const Error& error);
// Writes one JSON value and a newline to stdout, flushed.
void emit_json(const nlohmann::json& value);
// Writes a line of human text to stderr.
void say(std::string_view text);
// The --verbose trace: each line on stderr, preceded (once per process) by a note when secret
// memory could not be locked in RAM (mlock refused, e.g. by RLIMIT_MEMLOCK).
[[nodiscard]] std::function<void(std::string_view)> verbose_trace_sink();
// The libcurl client; with `verbose`, a redacted HTTP trace goes to stderr.
[[nodiscard]] std::unique_ptr<HttpClient> make_http(const std::string& ca_file, bool verbose);
// Loads a saved profile and opens its token store.
struct OpenedProfile {
  Profile profile;
  std::unique_ptr<TokenStore> store;
};
[[nodiscard]] Result<OpenedProfile> open_profile(const std::string& name);
// "2026-11-26 15:04:05 UTC (in 59 min)" or "unknown".
[[nodiscard]] std::string describe_expiry(const std::optional<long long>& expires_at);
// Makes SIGINT/SIGTERM end sleeps (devicelogin::request_stop) instead of killing the process.
void install_stop_signals();
// JSON null for an empty string.
[[nodiscard]] nlohmann::json string_or_null(const std::string& text);

}  // namespace devicelogin::cli
