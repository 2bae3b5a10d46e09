// `devicelogin setup-docker`: maps a registry to a profile (the registry map that the
// docker-credential helper reads, cli/helpers/docker_credential.cpp, kept with the library's
// private-file rules) and names the helper in docker's config.json. docker's config is docker's
// file: it keeps its mode, and is never written through a symlink or when another user owns it.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"
#include "devicelogin/sanitize.hpp"
#include "docker_config.hpp"
#include "docker_protocol.hpp"
#include "helpers/helpers.hpp"
#include "helpers/shown.hpp"
#include "output.hpp"
#include "process.hpp"
#include "setup_support.hpp"

namespace devicelogin::cli {
namespace {

constexpr std::string_view kSetupCommand = "setup-docker";
// The credHelpers value: docker runs "docker-credential-" + this.
constexpr std::string_view kHelperName = "devicelogin";
constexpr std::string_view kHelperExecutable = "docker-credential-devicelogin";
constexpr std::size_t kMaxConfigFile = 4 * 1024 * 1024;

struct SetupDockerArgs {
  std::string profile;  // empty: the default profile
  std::string registry;
  std::string username;
  bool remove = false;
};

Error error_of(ErrorCode code, std::string message) { return Error{code, std::move(message), "", 0}; }

std::string describe_errno(int error) { return std::strerror(error); }  // NOLINT(concurrency-mt-unsafe): one thread

std::string parent_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// docker's own rule: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
Result<std::string> docker_config_path() {
  // A relative directory would be read against whatever the current directory is (refused, as
  // the library refuses a relative HOME for its own files).
  if (const char* dir = ::getenv("DOCKER_CONFIG"); dir != nullptr && dir[0] != '\0') {  // NOLINT(concurrency-mt-unsafe)
    if (dir[0] != '/') return std::unexpected(error_of(ErrorCode::kConfig, "DOCKER_CONFIG is not an absolute path"));
    return std::string(dir) + "/config.json";
  }
  const char* home = ::getenv("HOME");  // NOLINT(concurrency-mt-unsafe)
  if (home == nullptr || home[0] == '\0') return std::unexpected(error_of(ErrorCode::kConfig, "HOME is not set"));
  if (home[0] != '/') return std::unexpected(error_of(ErrorCode::kConfig, "HOME is not an absolute path"));
  return std::string(home) + "/.docker/config.json";
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Reads all of `fd` (at most `limit` bytes); nullopt when it holds more.
std::optional<std::string> read_all(int fd, std::size_t limit, int& error) {
  std::string text;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      return std::nullopt;
    }
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > limit) {
      error = EFBIG;
      wipe_string(text);
      return std::nullopt;
    }
  }
}

// Replaces `path` with `data` atomically: a temp file (mode `mode`) in the same directory,
// written, fsynced and renamed over it, then the directory fsynced. The temp file is removed on
// failure, so that a reader sees the old file or the new one, never part of one.
Result<void> write_atomically(const std::string& path, std::string_view data, mode_t mode) {
  const std::string dir = parent_of(path);
  const std::string base = path.substr(path.rfind('/') + 1);
  std::string temp = dir + "/." + base + ".tmp.XXXXXX";
  const int raw = ::mkostemp(temp.data(), O_CLOEXEC);
  if (raw < 0) return std::unexpected(error_of(ErrorCode::kStorage, "cannot write in " + dir + ": " + describe_errno(errno)));
  auto failed = [&](const std::string& what) {
    const int saved = errno;
    ::unlink(temp.c_str());
    return std::unexpected(error_of(ErrorCode::kStorage, "cannot write " + path + " (" + what + "): " + describe_errno(saved)));
  };
  {
    Fd fd(raw);
    if (::fchmod(fd.get(), mode) != 0) return failed("chmod");
    std::string_view rest = data;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd.get(), rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return failed("write");
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::fsync(fd.get()) != 0) return failed("fsync");
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) return failed("rename");
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) (void)::fsync(dir_fd.get());  // best effort: the rename is done
  return {};
}

int run_setup_docker(const SetupDockerArgs& args) {
  auto usage = [](std::string message) { return report_error(kSetupCommand, error_of(ErrorCode::kUsage, std::move(message))); };
  const auto host = docker_registry_host(args.registry);
  if (!host) {
    return usage("--registry needs a registry host (registry.example.com, localhost:5000, docker.io), got \"" +
                 shown_word(args.registry) + "\"");
  }
  if (!args.username.empty()) {
    if (auto problem = docker_username_problem(args.username)) return usage("--username: " + *problem);
  }
  std::string profile;
  if (!args.remove) {
    // The entry names its profile explicitly: a later `devicelogin use` must not redirect docker.
    auto resolved = resolve_profile(args.profile);
    if (!resolved) return report_error(kSetupCommand, resolved.error());
    profile = *resolved;
    if (!valid_profile_name(profile)) return usage("invalid profile name \"" + shown_word(profile) + "\"");
  }
  auto map_path = helpers::docker_registry_map_path();
  if (!map_path) return report_error(kSetupCommand, map_path.error());
  // Parallel runs each read the files before the others wrote them, and the last
  // rename won (8 runs kept 3 entries). This user's setup-docker runs take turns over the whole
  // read-edit-write of both files. (docker itself takes no lock on config.json.)
  auto lock = SetupLock::acquire(*map_path + ".lock");
  if (!lock) return report_error(kSetupCommand, lock.error());
  auto registries = helpers::load_docker_registry_map();
  if (!registries) return report_error(kSetupCommand, registries.error());
  auto config_path = docker_config_path();
  if (!config_path) return report_error(kSetupCommand, config_path.error());
  const std::string* target = &*config_path;

  // docker's config: read as it is (it is docker's file, whatever its mode), edited in memory.
  // Never through a symlink (it led into a file of another owner, which the rename
  // then replaced), and only a file of this user.
  std::string config_text;
  mode_t config_mode = 0600;
  {
    Fd fd(::open(target->c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0 && errno == ELOOP) {
      return report_error(kSetupCommand, error_of(ErrorCode::kStorage, *target + " is a symbolic link; refusing it (set DOCKER_CONFIG "
                                                                                "to the directory of the file it points to)"));
    }
    if (fd.get() < 0 && errno != ENOENT) {
      return report_error(kSetupCommand, error_of(ErrorCode::kConfig, "cannot read " + *target + ": " + describe_errno(errno)));
    }
    if (fd.get() >= 0) {
      struct stat st {};
      if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return report_error(kSetupCommand, error_of(ErrorCode::kStorage, *target + " is not a regular file; refusing it"));
      }
      if (st.st_uid != ::geteuid()) {
        return report_error(kSetupCommand, error_of(ErrorCode::kStorage, *target + " belongs to another user; refusing it"));
      }
      config_mode = st.st_mode & 0777;  // kept, as docker keeps it
      int read_error = 0;
      auto text = read_all(fd.get(), kMaxConfigFile, read_error);
      if (!text) return report_error(kSetupCommand, error_of(ErrorCode::kConfig, "cannot read " + *target + ": " + describe_errno(read_error)));
      config_text = std::move(*text);
    }
  }
  const std::vector<std::string> keys = docker_credential_helper_keys(*host);
  auto edit = args.remove ? remove_docker_credential_helpers(config_text, keys, kHelperName)
                          : add_docker_credential_helpers(config_text, keys, kHelperName);
  wipe_string(config_text);  // its "auths" may hold passwords
  if (!edit) {
    return report_error(kSetupCommand, error_of(ErrorCode::kConfig, *target + " " + edit.error() + "; fix it first (nothing was changed)"));
  }
  struct WipeEdit {
    std::string& text;
    ~WipeEdit() { wipe_string(text); }
  } wipe_edit{edit->text};

  DockerRegistryMap updated = *registries;
  if (args.remove) {
    updated.erase(*host);
  } else {
    updated[*host] = DockerRegistryEntry{profile, args.username};
  }
  auto write_map = [&]() -> Result<void> {
    if (updated == *registries) return {};
    return helpers::save_docker_registry_map(updated);
  };
  auto write_config = [&]() -> Result<void> {
    if (!edit->changed) return {};
    if (auto made = make_directories(parent_of(*target)); !made) return made;
    return write_atomically(*target, edit->text, config_mode);
  };
  // In the order that leaves nothing that asks for a token: the map is written before docker is
  // told to ask, and docker is told to stop asking before the map forgets the registry.
  auto first = args.remove ? write_config() : write_map();
  if (!first) return report_error(kSetupCommand, first.error());
  auto second = args.remove ? write_map() : write_config();
  if (!second) return report_error(kSetupCommand, second.error());
  if (args.remove) {
    say("docker no longer asks devicelogin for " + *host + " credentials.");
    return 0;
  }
  say("docker now asks devicelogin (profile " + profile + ") for " + *host + " credentials (credHelpers in " + *target + ").");
  if (find_on_path(kHelperExecutable).empty()) {
    say("note: docker-credential-devicelogin (installed next to devicelogin) is not on PATH, where docker looks for it.");
  }
  return 0;
}

}  // namespace

void setup_docker(CLI::App& app, int& exit_code) {
  auto setup = std::make_shared<SetupDockerArgs>();
  CLI::App* setup_cmd = app.add_subcommand(
      "setup-docker",
      "Make docker (and skopeo, podman) ask devicelogin for a registry's credentials: records the registry for the "
      "profile and adds credHelpers to $DOCKER_CONFIG/config.json (default ~/.docker/config.json); idempotent");
  add_profile_flag(*setup_cmd, setup->profile);
  setup_cmd->add_option("--registry", setup->registry, "The registry host, e.g. registry.example.com, localhost:5000, docker.io")
      ->required();
  setup_cmd->add_option("--username", setup->username, "The username given with the token (default oauth2accesstoken)");
  setup_cmd->add_flag("--remove", setup->remove, "Remove the registry's entry and its credHelpers");
  setup_cmd->callback([setup, &exit_code] { exit_code = run_setup_docker(*setup); });
}

}  // namespace devicelogin::cli
