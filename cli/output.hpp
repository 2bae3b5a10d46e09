#pragma once
// Shared pieces of the subcommands: error lines, JSON lines, the HTTP client with its redacted
// trace, profile + store opening, and Ctrl-C handling.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "devicelogin/http_client.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/session.hpp"
#include "devicelogin/advanced/token_store.hpp"

namespace devicelogin::cli {

// The error's message with its remedy rendered as this CLI's next step ("; run: devicelogin login
// --profile work", "; use --store file", "; pass --client-id ID"), control characters removed.
[[nodiscard]] std::string render_error(const Error& error);
// Prints `devicelogin <command>: <render_error>` on stderr (one line) and returns the error's exit code.
int report_error(std::string_view command, const Error& error);
// The `error` field of a JSON error event: the OAuth error string, else the code's short name.
[[nodiscard]] std::string json_error_name(const Error& error);
// Writes one JSON value and a newline to stdout, flushed.
void emit_json(const nlohmann::json& value);
// Writes a line of human text to stderr.
void say(std::string_view text);
// Writes all of `data` to stdout (unbuffered, retrying after EINTR); false when it could not.
[[nodiscard]] bool write_stdout(std::string_view data);
// The --verbose trace: each line on stderr, preceded (once per process) by a note when secret
// memory could not be locked in RAM (mlock refused, e.g. by RLIMIT_MEMLOCK).
[[nodiscard]] std::function<void(std::string_view)> verbose_trace_sink();
// The options every command opens its session with: with `verbose`, a redacted HTTP trace on stderr.
[[nodiscard]] SessionOptions session_options(bool verbose);
// The profile a --profile value names: itself, or the default profile when it is empty.
[[nodiscard]] Result<std::string> resolve_profile(const std::string& flag_value);
// Session::open(resolve_profile(flag_value), session_options(verbose)): the one place the CLI
// opens a session.
// `audit_consumer`, `audit_detail`: who the audit trail names as receiving the session's tokens
// (SessionOptions); empty: "cli", for the commands that hand no token to anyone.
[[nodiscard]] Result<Session> open_session(const std::string& flag_value, bool verbose,
                                           const std::string& audit_consumer = "cli", const std::string& audit_detail = {});
// "2026-11-26 15:04:05 UTC (in 59 min)" or "unknown".
[[nodiscard]] std::string describe_expiry(const std::optional<long long>& expires_at);
// Makes SIGINT/SIGTERM end sleeps (devicelogin::request_stop) instead of killing the process.
void install_stop_signals();
// The machine policy's refusal of `helper` (exec, api, git, docker, kubectl, agent) handing out tokens,
// or its own error when it cannot be honoured; nullopt when the helper may (policy.cpp).
[[nodiscard]] std::optional<Error> helper_refused_by_policy(std::string_view helper);
// JSON null for an empty string.
[[nodiscard]] nlohmann::json string_or_null(const std::string& text);

}  // namespace devicelogin::cli
