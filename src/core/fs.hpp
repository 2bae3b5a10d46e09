#pragma once
// Private files: 0700 directories, 0600 files, atomic replacement, refusal of unsafe permissions.
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/result.hpp"

namespace devicelogin {

// Creates `path` and missing parents; the final directory gets mode 0700 (an existing one of ours
// with looser bits is tightened to 0700). Refuses a final directory owned by another user or
// that is not a directory. kStorage on failure.
[[nodiscard]] Result<void> ensure_private_directory(const std::string& path);
// Writes `data` to `path` atomically: temp file (0600, same directory) + fsync + rename + fsync
// of the directory. The temp file is removed on failure.
[[nodiscard]] Result<void> write_file_atomically(const std::string& path, std::string_view data);
// Deletes temporary files a crashed write_file_atomically(path) may have left ("PATH.tmp.*").
void remove_stale_temp_files(const std::string& path);
// Reads a file that must be a regular file owned by the user and unreadable by group and others
// (as ssh does for keys). nullopt when it does not exist; kStorage when it is unsafe or unreadable.
// `what` names the file in messages.
[[nodiscard]] Result<std::optional<std::string>> read_private_file(const std::string& path,
                                                                    std::string_view what);
// Removes a file; true when it existed.
[[nodiscard]] Result<bool> remove_file(const std::string& path);
// $name from the environment, or empty.
[[nodiscard]] std::string env_or_empty(const char* name);
// XDG base directory: $env_name when absolute, else $HOME/fallback. kConfig without HOME.
[[nodiscard]] Result<std::string> xdg_directory(const char* env_name, std::string_view fallback);

}  // namespace devicelogin
