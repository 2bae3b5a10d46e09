#include "store/audit.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <climits>
#include <ctime>

#include "core/encoding.hpp"
#include "core/fs.hpp"
#include "core/json_reader.hpp"
#include "core/sha256.hpp"
#include "devicelogin/advanced/audit.hpp"
#include "devicelogin/advanced/token_store.hpp"
#include "devicelogin/policy.hpp"

namespace devicelogin::store {

namespace {

std::string read_link(const char* path) {
  char buffer[PATH_MAX];
  const ssize_t length = ::readlink(path, buffer, sizeof buffer);
  if (length <= 0 || static_cast<std::size_t>(length) >= sizeof buffer) return {};
  return std::string(buffer, static_cast<std::size_t>(length));
}

std::string utc_time(long long now) {
  // The civil date of a UTC time with <chrono>'s calendar: gmtime_r would call tzset(), which
  // reads /etc/localtime (seven system calls on the `token` hot path) for a zone UTC never needs.
  using namespace std::chrono;
  const sys_seconds at{seconds{now}};
  const auto day = floor<days>(at);
  const year_month_day date{day};
  const hh_mm_ss time{at - day};
  if (!date.ok() || static_cast<int>(date.year()) < 0 || static_cast<int>(date.year()) > 9999) return {};
  // Digits by hand rather than snprintf, whose format machinery is a tenth of the audit record's
  // cost on the `token` hot path.
  char buffer[] = "0000-00-00T00:00:00Z";
  auto put = [&](std::size_t offset, unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buffer[offset + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, static_cast<unsigned>(static_cast<int>(date.year())), 4);
  put(5, static_cast<unsigned>(date.month()), 2);
  put(8, static_cast<unsigned>(date.day()), 2);
  put(11, static_cast<unsigned>(time.hours().count()), 2);
  put(14, static_cast<unsigned>(time.minutes().count()), 2);
  put(17, static_cast<unsigned>(time.seconds().count()), 2);
  return std::string(buffer, sizeof buffer - 1);
}

// A descriptor closed when it goes out of scope.
struct ClosingFd {
  int fd = -1;
  ClosingFd() = default;
  explicit ClosingFd(int value) : fd(value) {}
  ClosingFd(const ClosingFd&) = delete;
  ClosingFd& operator=(const ClosingFd&) = delete;
  ~ClosingFd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string rotated_name(int generation) { return std::string(kAuditFileName) + "." + std::to_string(generation); }

// Shifts audit.jsonl to .1 (and .1 to .2, ...) when it is still at least `rotate_bytes` long.
// Several processes write at once, so:
//  - rotation happens under an exclusive flock of audit.lock, and the size is checked again under
//    it (by name, not by the descriptor a writer holds): a second process that also saw the file
//    full finds the new, short file and does nothing, so a rotation never happens twice for one
//    full file (which would push a fresh file to .1 and drop a full one);
//  - a writer that opened audit.jsonl before the rename keeps its descriptor, and its O_APPEND
//    write lands whole at the end of the renamed file (.1): a rename moves the name, not the
//    inode. Its line is then in .1 rather than the new file, a few lines at most and still whole,
//    which the reader sorts back by time. No line is cut or lost by a rotation, and no writer
//    waits for the lock (only a writer that found the file full takes it).
//  - the lock is not waited for: when another process holds it, it is rotating now.
void rotate(const core::PrivateDirectory& directory, long long rotate_bytes) {
  auto lock = directory.open_lock_file("audit.lock");
  if (!lock) return;
  ClosingFd held(*lock);
  if (::flock(held.fd, LOCK_EX | LOCK_NB) != 0) return;
  const auto size = directory.file_size(kAuditFileName);
  if (!size || *size < rotate_bytes) return;
  (void)directory.remove_file(rotated_name(kAuditKeptFiles));
  for (int generation = kAuditKeptFiles - 1; generation >= 1; --generation) {
    (void)directory.rename_file(rotated_name(generation), rotated_name(generation + 1));
  }
  (void)directory.rename_file(kAuditFileName, rotated_name(1));
  // The lock is released when `held` closes.
}

// `value` as a JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped;
// a byte that does not start well-formed UTF-8 becomes U+FFFD, so the line is always valid JSON.
void append_json_string(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < value.size();) {
    // A run of printable ASCII other than '"' and '\\' (most of every value) goes in at once.
    std::size_t plain = i;
    while (plain < value.size()) {
      const auto c = static_cast<unsigned char>(value[plain]);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') break;
      ++plain;
    }
    if (plain > i) {
      out.append(value.data() + i, plain - i);
      i = plain;
      if (i == value.size()) break;
    }
    const auto byte = static_cast<unsigned char>(value[i]);
    if (byte >= 0x80) {
      const auto [code_point, length] = core::utf8_code_point_at(value, i);
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(value.substr(i, length));
        i += length;
      }
      continue;
    }
    if (byte == '"' || byte == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(byte));
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\u00";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    } else {
      out.push_back(static_cast<char>(byte));
    }
    ++i;
  }
  out.push_back('"');
}

// The claims' `jti` when it can name the token in a line: 1-64 printable ASCII characters.
std::string printable_jti(std::string_view jti_text) {
  auto jti = core::string_value<std::string>(jti_text);
  if (!jti || jti->empty() || jti->size() > 64) return {};
  for (const char c : *jti) {
    if (c < 0x21 || c > 0x7e) return {};
  }
  return std::move(*jti);
}

}  // namespace

AuditSettings audit_settings() {
  // The machine policy's `audit` object replaces the defaults, here and nowhere else. Read once
  // per process (a long-lived library process sees a changed policy when it starts again). No
  // file: one failed access(), the token fast path's only cost here. A policy that cannot be
  // honoured leaves the defaults: every command refuses to run with it before handing anything out.
  static const AuditSettings settings = [] {
    AuditSettings defaults;
    const std::string path = machine_policy_path();
    if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return defaults;
    auto policy = load_policy_file(path);
    if (!policy || !policy->present || !policy->audit) return defaults;
    return AuditSettings{policy->audit->enabled, policy->audit->journal};
  }();
  return settings;
}

std::string audit_token_id(const Secret& token) {
  const std::string_view value = token.reveal();
  if (value.empty()) return {};
  // A JWT (RFC 7519): header.payload.signature; its `jti` (§4.1.7) names it without revealing it.
  const std::size_t first = value.find('.');
  const std::size_t second = first == std::string_view::npos ? first : value.find('.', first + 1);
  if (second != std::string_view::npos && value.find('.', second + 1) == std::string_view::npos) {
    if (auto payload = core::base64url_decode(value.substr(first + 1, second - first - 1))) {
      // The project's strict scanner (core/json_reader.hpp): this runs on the `token` hot path,
      // where nlohmann's parser of the whole claims cost a fifth of the run. Only the `jti`'s text
      // is kept (the last one, as nlohmann keeps a repeated name).
      std::string_view jti_text;
      const bool read = core::JsonScanner(*payload, 32).scan([&](std::string_view name, std::string_view member) {
        if (name == "jti") jti_text = member;
      }) == core::JsonScanner::Root::kObject;
      std::string jti = read ? printable_jti(jti_text) : std::string();
      wipe_string(*payload);
      if (!jti.empty()) return "jti:" + jti;
    }
  }
  return "sha256:" + core::sha256_hex_prefix(value, 8);
}

AuditProcess audit_this_process() {
  AuditProcess process;
  process.pid = ::getpid();
  process.exe = read_link("/proc/self/exe");
  process.ppid = ::getppid();
  const std::string parent = "/proc/" + std::to_string(process.ppid) + "/exe";
  process.parent_exe = read_link(parent.c_str());
  return process;
}

std::string audit_line(const AuditEvent& event, long long now, const AuditProcess& process) {
  // Written by hand rather than through a JSON object: this runs on `token`'s hot path, where
  // every page of code a fresh process touches costs (docs/audit.md, "Cost on the hot path").
  std::string line;
  line.reserve(512);
  bool first = true;
  auto key = [&](std::string_view name) {
    line += first ? "{\"" : ",\"";
    first = false;
    line += name;
    line += "\":";
  };
  auto text = [&](std::string_view name, std::string_view value) {
    key(name);
    append_json_string(line, value);
  };
  auto number = [&](std::string_view name, long long value) {
    key(name);
    line += std::to_string(value);
  };
  text("time", utc_time(now));
  number("ts", now);
  text("event", event.event);
  text("profile", event.profile);
  text("consumer", event.consumer);
  if (!event.detail.empty()) text("detail", event.detail);
  number("pid", process.pid);
  text("exe", process.exe);
  number("ppid", process.ppid);
  text("parent_exe", process.parent_exe);
  if (!event.token_id.empty()) text("token_id", event.token_id);
  key("refreshed");
  line += event.refreshed ? "true" : "false";
  text("outcome", event.outcome);
  if (!event.reason.empty()) text("reason", event.reason);
  line += "}\n";
  return line;
}

Result<void> audit_record_in(const AuditEvent& event, const AuditSettings& settings, const std::string& state_directory,
                             long long rotate_bytes) {
  if (!settings.enabled) return {};
  const AuditProcess process = audit_this_process();
  const std::string line = audit_line(event, static_cast<long long>(std::time(nullptr)), process);
  if (settings.journal) audit_journal_send(event, process, line);
  auto directory = core::PrivateDirectory::open(state_directory, true);
  if (!directory) return std::unexpected(directory.error());
  long long size = 0;
  auto opened = (*directory)->open_append_file(kAuditFileName, size);
  if (!opened) return std::unexpected(opened.error());
  ClosingFd fd(*opened);
  if (size >= rotate_bytes) {
    rotate(**directory, rotate_bytes);
    ::close(fd.fd);
    fd.fd = -1;
    opened = (*directory)->open_append_file(kAuditFileName, size);
    if (!opened) return std::unexpected(opened.error());
    fd.fd = *opened;
  }
  // One write() of the whole line: with O_APPEND the kernel places it at the end of the file as
  // one unit (the file's position and the write happen under the inode's lock), so lines from
  // concurrent processes never interleave. It is not retried when short (a full disk): a second
  // write could land after another process's line; the reader skips a line that does not parse.
  ssize_t written = -1;
  do {
    written = ::write(fd.fd, line.data(), line.size());
  } while (written < 0 && errno == EINTR);
  if (written != static_cast<ssize_t>(line.size())) {
    return std::unexpected(Error(ErrorCode::kStorage, "cannot append to the audit file in " + state_directory));
  }
  return {};
}

void audit_record(const AuditEvent& event) { audit_record(event, audit_settings()); }

void audit_record(const AuditEvent& event, const AuditSettings& settings) {
  if (!settings.enabled) return;
  auto directory = default_state_directory();
  if (!directory) return;
  (void)audit_record_in(event, settings, *directory, kAuditRotateBytes);
}

Result<std::vector<std::string>> read_audit_lines(const std::string& state_directory) {
  std::vector<std::string> lines;
  auto directory = core::PrivateDirectory::open(state_directory, false);
  if (!directory) return std::unexpected(directory.error());
  if (!*directory) return lines;
  std::vector<std::string> names;
  for (int generation = kAuditKeptFiles; generation >= 1; --generation) names.push_back(rotated_name(generation));
  names.emplace_back(kAuditFileName);
  for (const std::string& name : names) {
    auto content = (*directory)->read_private_file(name, "audit file");
    if (!content) return std::unexpected(content.error());
    if (!*content) continue;
    std::string_view rest = **content;
    while (!rest.empty()) {
      const std::size_t end = rest.find('\n');
      // A last line without its '\n' is one being written or cut short: not a record.
      if (end == std::string_view::npos) break;
      lines.emplace_back(rest.substr(0, end));
      rest.remove_prefix(end + 1);
    }
  }
  return lines;
}

}  // namespace devicelogin::store

namespace devicelogin {

Result<std::string> audit_log_path() {
  auto directory = default_state_directory();
  if (!directory) return directory;
  return *directory + "/" + std::string(store::kAuditFileName);
}

Result<std::vector<std::string>> audit_log_lines() {
  auto directory = default_state_directory();
  if (!directory) return std::unexpected(directory.error());
  return store::read_audit_lines(*directory);
}

}  // namespace devicelogin
