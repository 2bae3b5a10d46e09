// The machine policy file: its parser and its careful reading (ownership, no symbolic links).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/policy.hpp"
#include "devicelogin/sanitize.hpp"

#ifndef DEVICELOGIN_POLICY_PATH
#define DEVICELOGIN_POLICY_PATH "/etc/devicelogin/policy.json"
#endif

namespace devicelogin {
namespace {

using json = nlohmann::json;

constexpr std::string_view kStores[] = {"file", "kernel-keyring", "secret-service"};

// A refusal naming the file and the key: the one line every command prints before refusing to run.
std::unexpected<Error> invalid(const std::string& path, const std::string& key, const std::string& problem) {
  std::string message = "the machine policy " + path + " is invalid";
  if (!key.empty()) message += ": key \"" + sanitize_text(key.substr(0, 80)) + "\"";
  message += ": " + problem + "; ask the administrator to fix it";
  return fail(ErrorCode::kConfig, std::move(message));
}

std::unexpected<Error> unsafe(const std::string& path, const std::string& problem) {
  return fail(ErrorCode::kConfig, "the machine policy " + path + " is not honoured: " + problem +
                                      "; it must be a regular file owned by root, in directories owned by root, "
                                      "none writable by group or others");
}

struct Reader {
  const std::string& path;

  Result<std::vector<std::string>> strings(const json& value, const std::string& key,
                                           std::span<const std::string_view> allowed = {}) const {
    if (!value.is_array()) return invalid(path, key, "expected a list of strings");
    std::vector<std::string> out;
    for (const json& item : value) {
      if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
        return invalid(path, key, "expected a list of non-empty strings");
      }
      const auto& text = item.get_ref<const std::string&>();
      if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
        std::string names;
        for (std::string_view name : allowed) names += (names.empty() ? "" : ", ") + std::string(name);
        return invalid(path, key, "\"" + sanitize_text(text.substr(0, 40)) + "\" is not one of " + names);
      }
      out.push_back(text);
    }
    return out;
  }

  Result<double> hours(const json& value, const std::string& key) const {
    if (!value.is_number()) return invalid(path, key, "expected a number of hours");
    const double hours = value.get<double>();
    // Up to ten years: a larger limit is no limit, and would overflow a count of seconds.
    if (!std::isfinite(hours) || hours <= 0 || hours > 24.0 * 366 * 10) {
      return invalid(path, key, "expected a number of hours above 0 and at most 87840");
    }
    return hours;
  }

  Result<bool> flag(const json& value, const std::string& key) const {
    if (!value.is_boolean()) return invalid(path, key, "expected true or false");
    return value.get<bool>();
  }

  Result<PolicyIssuer> issuer(const json& value, const std::string& key) const {
    if (!value.is_object()) return invalid(path, key, "expected an object with \"issuer\" (and \"client_ids\", \"scopes\")");
    PolicyIssuer out;
    bool named = false;
    for (const auto& [name, item] : value.items()) {
      const std::string item_key = key + "." + name;
      if (name == "issuer") {
        if (!item.is_string() || item.get_ref<const std::string&>().empty()) return invalid(path, item_key, "expected a URL");
        out.issuer = item.get<std::string>();
        named = true;
      } else if (name == "client_ids") {
        auto list = strings(item, item_key);
        if (!list) return std::unexpected(list.error());
        out.client_ids = std::move(*list);
      } else if (name == "scopes") {
        auto list = strings(item, item_key);
        if (!list) return std::unexpected(list.error());
        out.scopes = std::move(*list);
      } else {
        return invalid(path, item_key, "unknown key (known: issuer, client_ids, scopes)");
      }
    }
    if (!named) return invalid(path, key + ".issuer", "missing");
    return out;
  }
};

// Opens each directory of `path` in turn without following a symbolic link, checking its owner and
// mode on the opened descriptor (so that nothing can be swapped between the check and the use).
// Returns the descriptor of the last directory, or -1 with errno ENOENT when one is missing.
Result<int> open_policy_directory(const std::string& path, std::string& file_name) {
  const std::size_t slash = path.rfind('/');
  if (path.empty() || path[0] != '/' || slash == std::string::npos || slash + 1 == path.size()) {
    return unsafe(path, "its path is not absolute");
  }
  file_name = path.substr(slash + 1);
  int fd = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return unsafe(path, std::string("cannot open /: ") + std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
  std::string walked;
  std::size_t start = 1;
  while (true) {
    struct stat info{};
    if (::fstat(fd, &info) != 0 || info.st_uid != 0 || (info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
      ::close(fd);
      return unsafe(path, "directory " + (walked.empty() ? std::string("/") : walked) +
                              " is not owned by root or is writable by group or others");
    }
    if (start > slash) break;
    const std::size_t end = path.find('/', start);
    const std::string part = path.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == "." || part == "..") continue;
    walked += "/" + part;
    const int next = ::openat(fd, part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    const int failure = errno;
    ::close(fd);
    if (next < 0) {
      if (failure == ENOENT) return -1;
      if (failure == ELOOP || failure == ENOTDIR) return unsafe(path, walked + " is a symbolic link or not a directory");
      return unsafe(path, "cannot open " + walked + ": " + std::strerror(failure));  // NOLINT(concurrency-mt-unsafe)
    }
    fd = next;
  }
  return fd;
}

}  // namespace

std::string machine_policy_path() { return DEVICELOGIN_POLICY_PATH; }

Result<Policy> parse_policy(std::string_view text, const std::string& path) {
  if (text.size() > kMaxPolicyBytes) {
    return invalid(path, "", "it is larger than " + std::to_string(kMaxPolicyBytes / 1024) + " KiB");
  }
  // Nesting is limited while parsing: a container deeper than the limit is dropped unbuilt (the
  // parser keeps its own stack, so the document is never recursed into).
  std::string top_key;
  std::string deep_key;
  bool too_deep = false;
  json::parser_callback_t limit = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) top_key = parsed.get<std::string>();
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxPolicyDepth) {
      if (!too_deep) deep_key = top_key;
      too_deep = true;
      return false;
    }
    return true;
  };
  json doc = json::parse(text, limit, false);
  if (too_deep) return invalid(path, deep_key, "it nests deeper than " + std::to_string(kMaxPolicyDepth) + " levels");
  if (doc.is_discarded()) return invalid(path, "", "it is not valid JSON");
  if (!doc.is_object()) return invalid(path, "", "expected a JSON object");
  Policy policy;
  policy.path = path;
  policy.present = true;
  const Reader read{path};
  for (const auto& [key, value] : doc.items()) {
    if (key == "issuers") {
      if (!value.is_array()) return invalid(path, key, "expected a list of issuers");
      std::vector<PolicyIssuer> issuers;
      for (std::size_t i = 0; i < value.size(); ++i) {
        auto issuer = read.issuer(value[i], key + "[" + std::to_string(i) + "]");
        if (!issuer) return std::unexpected(issuer.error());
        issuers.push_back(std::move(*issuer));
      }
      policy.issuers = std::move(issuers);
    } else if (key == "stores") {
      auto stores = read.strings(value, key, kStores);
      if (!stores) return std::unexpected(stores.error());
      policy.stores = std::move(*stores);
    } else if (key == "max_session_hours" || key == "idle_hours") {
      auto hours = read.hours(value, key);
      if (!hours) return std::unexpected(hours.error());
      (key == "idle_hours" ? policy.idle_hours : policy.max_session_hours) = *hours;
    } else if (key == "require_dpop" || key == "require_revocation") {
      auto flag = read.flag(value, key);
      if (!flag) return std::unexpected(flag.error());
      (key == "require_dpop" ? policy.require_dpop : policy.require_revocation) = *flag;
    } else if (key == "helpers") {
      auto helpers = read.strings(value, key, kPolicyHelperNames);
      if (!helpers) return std::unexpected(helpers.error());
      policy.helpers = std::move(*helpers);
    } else if (key == "api_origins") {
      auto origins = read.strings(value, key);
      if (!origins) return std::unexpected(origins.error());
      policy.api_origins = std::move(*origins);
    } else if (key == "audit") {
      if (!value.is_object()) return invalid(path, key, "expected {\"enabled\": true|false, \"journal\": true|false}");
      PolicyAudit audit;
      for (const auto& [name, item] : value.items()) {
        const std::string item_key = key + "." + name;
        if (name != "enabled" && name != "journal") return invalid(path, item_key, "unknown key (known: enabled, journal)");
        auto flag = read.flag(item, item_key);
        if (!flag) return std::unexpected(flag.error());
        (name == "enabled" ? audit.enabled : audit.journal) = *flag;
      }
      policy.audit = audit;
    } else {
      return invalid(path, key,
                     "unknown key (known: issuers, stores, max_session_hours, idle_hours, require_dpop, "
                     "require_revocation, helpers, api_origins, audit)");
    }
  }
  return policy;
}

Result<Policy> load_policy_file(const std::string& path) {
  Policy none;
  none.path = path;
  std::string file_name;
  auto directory = open_policy_directory(path, file_name);
  if (!directory) return std::unexpected(directory.error());
  if (*directory < 0) return none;
  // O_NOFOLLOW: a symbolic link is refused, not followed; O_NONBLOCK: a FIFO cannot hang the open.
  const int fd = ::openat(*directory, file_name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  const int failure = errno;
  ::close(*directory);
  if (fd < 0) {
    if (failure == ENOENT) return none;
    if (failure == ELOOP) return unsafe(path, "it is a symbolic link");
    return unsafe(path, std::string("cannot read it: ") + std::strerror(failure));  // NOLINT(concurrency-mt-unsafe)
  }
  struct stat info{};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return unsafe(path, "it is not a regular file");
  }
  if (info.st_uid != 0) {
    ::close(fd);
    return unsafe(path, "it is owned by uid " + std::to_string(info.st_uid) + ", not root");
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    ::close(fd);
    return unsafe(path, "it is writable by group or others");
  }
  std::string text;
  char buffer[8192];
  while (text.size() <= kMaxPolicyBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int read_failure = errno;
      ::close(fd);
      return unsafe(path, std::string("cannot read it: ") + std::strerror(read_failure));  // NOLINT(concurrency-mt-unsafe)
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parse_policy(text, path);
}

Result<Policy> load_machine_policy() { return load_policy_file(machine_policy_path()); }

bool policy_origin_matches(std::string_view pattern, std::string_view origin) {
  // The origin of a URL: scheme://authority, without path, query or fragment.
  if (const std::size_t scheme = origin.find("://"); scheme != std::string_view::npos) {
    const std::size_t end = origin.find_first_of("/?#", scheme + 3);
    if (end != std::string_view::npos) origin = origin.substr(0, end);
  }
  // Glob matching with backtracking to the last '*' (linear in practice, no recursion).
  std::size_t p = 0, o = 0, star = std::string_view::npos, star_o = 0;
  while (o < origin.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_o = o;
    } else if (p < pattern.size() && pattern[p] == origin[o]) {
      ++p;
      ++o;
    } else if (star != std::string_view::npos && origin[star_o] != '/') {
      p = star + 1;
      o = ++star_o;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<void> check_policy_helper(const Policy& policy, std::string_view helper) {
  if (!policy.helpers) return {};
  if (std::find(policy.helpers->begin(), policy.helpers->end(), helper) != policy.helpers->end()) return {};
  return fail(ErrorCode::kConfig, "the machine policy " + policy.path + " does not let " + std::string(helper) +
                                      " hand out tokens (allowed: " +
                                      (policy.helpers->empty() ? std::string("none") : [&] {
                                        std::string names;
                                        for (const auto& name : *policy.helpers) names += (names.empty() ? "" : ", ") + name;
                                        return names;
                                      }()) + ")");
}

}  // namespace devicelogin
