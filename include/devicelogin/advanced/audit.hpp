#pragma once
// The audit trail: every token hand-out, login, refresh, logout and refusal of this user's
// sessions, recorded as one JSON object per line in $XDG_STATE_HOME/devicelogin/audit.jsonl
// (0600; rotated by size to audit.jsonl.1 and .2). Records name the process that asked (pid,
// executable, parent) and the token by its `jti` or a SHA-256 prefix, never the token. See
// docs/audit.md for the fields.
#include <string>
#include <vector>

#include "devicelogin/export.hpp"
#include "devicelogin/result.hpp"

namespace devicelogin {

// The audit file's path (it may not exist yet). kConfig without HOME.
[[nodiscard]] DEVICELOGIN_API Result<std::string> audit_log_path();
// The recorded lines, oldest file first (audit.jsonl.2, .1, audit.jsonl), each one JSON object
// without its newline; a line cut short is skipped. Empty when nothing was recorded. kStorage
// when a file is unsafe (another owner, readable by others) or unreadable.
[[nodiscard]] DEVICELOGIN_API Result<std::vector<std::string>> audit_log_lines();

}  // namespace devicelogin
