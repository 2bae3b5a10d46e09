#pragma once
// The audit trail: one JSON line per event (a token handed out, a login, a refresh, a logout and
// its revocation, a refusal), appended to $XDG_STATE_HOME/devicelogin/audit.jsonl (0600, in the
// 0700 state directory) and, when the settings ask and the build has libsystemd, sent to the
// systemd journal. It names the process that asked (pid and executable, and its parent's) and the
// token by its `jti` or a short SHA-256 prefix, never by its value. Recording never fails the
// caller: an audit problem is dropped silently (the one thing worse than a missing record is a
// `token` that stops working because the state directory is full).
//
// Linked into the lean executable's fast path and the Python package's native module (core and
// store only: no libcrypto, no libsystemd there; see audit_journal_available()).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"

namespace devicelogin::store {

// Whether and where events are recorded: the file on and the journal off unless the machine
// policy's `audit { enabled, journal }` says otherwise (audit_settings() is the single place that
// reads them).
struct AuditSettings {
  bool enabled = true;
  bool journal = false;
};

// The settings in force for this process.
[[nodiscard]] AuditSettings audit_settings();
// Whether this binary can write to the systemd journal (built with libsystemd). The lean
// executable cannot: when the settings ask for the journal it leaves the hand-out to the full CLI.
[[nodiscard]] bool audit_journal_available();

// One event. Every string is plain text (no secret); the writer escapes it.
struct AuditEvent {
  std::string event;     // "handout", "login", "refresh", "logout", "refusal"
  std::string profile;
  std::string consumer;  // "token", "exec", "git", "docker", "kubectl", "api", "capi", "python", "library", "cli"
  std::string detail;    // exec: the command's name; git: the host; docker: the registry; api: the origin
  std::string token_id;  // audit_token_id() of the token concerned, or empty
  bool refreshed = false;
  std::string outcome = "ok";  // "ok", or an error code name (error_code_name), or "refused"
  std::string reason;          // one line, no secret: why, when not ok
};

// The name a record gives a token: "jti:<jti>" when it is a JWT with a printable `jti` claim of at
// most 64 characters, else "sha256:" and the first 8 hex digits of its SHA-256. Empty for an
// empty token.
[[nodiscard]] std::string audit_token_id(const Secret& token);

// The process an event is recorded for.
struct AuditProcess {
  long long pid = 0;
  std::string exe;  // readlink /proc/PID/exe, empty when unreadable
  long long ppid = 0;
  std::string parent_exe;
};
// This process and its parent.
[[nodiscard]] AuditProcess audit_this_process();

// The JSON line (with its '\n') for `event` at unix time `now` in `process`.
[[nodiscard]] std::string audit_line(const AuditEvent& event, long long now, const AuditProcess& process);

// The audit file's name in the state directory, and its rotation: when a write finds it at least
// kAuditRotateBytes long, it becomes audit.jsonl.1 (the previous .1 becomes .2, the previous .2
// is deleted). 960 KiB: the private-file reader takes files up to 1 MiB, and writers that opened
// the file just before a rotation may still add their lines to it (a few hundred bytes each).
inline constexpr std::string_view kAuditFileName = "audit.jsonl";
inline constexpr long long kAuditRotateBytes = 960LL * 1024;
inline constexpr int kAuditKeptFiles = 2;

// Records `event` for this process with audit_settings(), in the default state directory.
void audit_record(const AuditEvent& event);
// The same with settings the caller already knows (the fast path, which runs only when there is no
// machine policy, so the defaults).
void audit_record(const AuditEvent& event, const AuditSettings& settings);
// The same with explicit settings, directory and rotation size (tests). Returns the problem, if
// any (audit_record drops it).
[[nodiscard]] Result<void> audit_record_in(const AuditEvent& event, const AuditSettings& settings,
                                           const std::string& state_directory, long long rotate_bytes);

// The recorded lines, oldest first (audit.jsonl.2, .1, then audit.jsonl), each without its '\n'.
// A line cut short (a full disk) is skipped. Files are read with the private-file rules.
[[nodiscard]] Result<std::vector<std::string>> read_audit_lines(const std::string& state_directory);

// Sends one event to the systemd journal (audit_journal.cpp; a no-op without libsystemd).
void audit_journal_send(const AuditEvent& event, const AuditProcess& process, std::string_view line);

}  // namespace devicelogin::store
