#pragma once
// Private files: 0700 directories, 0600 files, atomic replacement, refusal of unsafe permissions.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "devicelogin/result.hpp"

namespace devicelogin::core {

// A private directory held open: every file operation goes through its descriptor (openat,
// renameat, unlinkat, fchmod), so that what was checked is what is written, even if someone
// renames a directory on the path meanwhile. Move-only; closes the descriptor when destroyed.
class PrivateDirectory {
 public:
  // Opens the absolute `path`, walking it one directory descriptor at a time; with `create`,
  // missing directories are made 0700. Every parent must belong to the user or root and must not
  // be writable by others unless sticky (/tmp): whoever can write a parent can swap the directory.
  // The directory itself must be a directory (not a symlink) owned by the user and writable by no
  // one else (refused, as ssh refuses such a directory); readable-only bits are removed (fchmod
  // 0700). kStorage on any failure; with !create, nullopt when it does not exist.
  [[nodiscard]] static Result<std::optional<PrivateDirectory>> open(const std::string& path, bool create);

  PrivateDirectory(PrivateDirectory&& other) noexcept;
  PrivateDirectory& operator=(PrivateDirectory&& other) noexcept;
  PrivateDirectory(const PrivateDirectory&) = delete;
  PrivateDirectory& operator=(const PrivateDirectory&) = delete;
  ~PrivateDirectory();

  // Writes `data` to the file `name` atomically: an O_TMPFILE inode (or, where the filesystem has
  // none, a 0600 O_EXCL temp file), written, fsynced, named and renamed over `name`, then the
  // directory fsynced. The temp file is removed on failure.
  [[nodiscard]] Result<void> write_file_atomically(std::string_view name, std::string_view data) const;
  // read_private_file for the file `name` in this directory.
  [[nodiscard]] Result<std::optional<std::string>> read_private_file(std::string_view name,
                                                                     std::string_view what) const;
  // Deletes the temp files a crashed write_file_atomically(name) may have left.
  void remove_stale_temp_files(std::string_view name) const;
  // Removes the file `name`; true when it existed.
  [[nodiscard]] Result<bool> remove_file(std::string_view name) const;
  // Opens (creating, 0600, never through a symlink) the file `name` for reading and writing, as
  // a lock file; the caller owns the descriptor.
  [[nodiscard]] Result<int> open_lock_file(std::string_view name) const;
  // Opens the file `name` for appending (O_APPEND, created 0600, never through a symlink); it must
  // be a regular file of this user that group and others cannot read or write (kStorage
  // otherwise). The caller owns the descriptor; `size` receives the file's size when it was opened.
  [[nodiscard]] Result<int> open_append_file(std::string_view name, long long& size) const;
  // Renames `from` to `to` in this directory (replacing `to`); false when `from` does not exist.
  [[nodiscard]] Result<bool> rename_file(std::string_view from, std::string_view to) const;
  // The size of the file `name` (not following a symlink); nullopt when it does not exist.
  [[nodiscard]] std::optional<long long> file_size(std::string_view name) const;

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  PrivateDirectory(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// For a short-lived process that walks to one private directory and then to its parent (the
// `token` fast path: the token file's directory, then the audit trail's): from now on, the parent
// of the last directory a walk opens stays open (when it is no symlink), and a walk to exactly it
// starts from that descriptor instead of from "/", so its parents are not checked twice. At most
// one descriptor is held, until the process ends or the next walk takes it. Not for a library:
// a long-lived process would keep a directory open.
void remember_walked_parent();

// PrivateDirectory::open(path, true), for callers that only need the directory to exist.
[[nodiscard]] Result<void> ensure_private_directory(const std::string& path);
// PrivateDirectory::write_file_atomically in the (existing) parent directory of `path`.
[[nodiscard]] Result<void> write_file_atomically(const std::string& path, std::string_view data);
// Deletes temporary files a crashed write_file_atomically(path) may have left (".NAME.tmp.*" next
// to NAME; a leading '.' no valid profile name has, so no profile's file is ever matched).
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

}  // namespace devicelogin::core
