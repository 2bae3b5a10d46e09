// docker's credential helper protocol (docker_protocol.hpp): `devicelogin docker-credential
// get|store|erase|list|version`, which docker, skopeo and podman run as
// `docker-credential-devicelogin OP` (a symlink to the devicelogin executable, whose main turns
// the name into this command), and `devicelogin setup-docker`, which maps a registry to a profile
// and names the helper in docker's config.json.
//
// Where the registry -> profile map lives: its own small file,
// $XDG_CONFIG_HOME/devicelogin/docker-registries.json, not the profiles' api_urls. api_urls are the
// origins `devicelogin api` may send the token to as a bearer token; a registry named there would
// widen that rule as a side effect. One file also lets `get` find its profile with one read (no
// scan of every profile), which the token fast path needs. The library's private-file functions
// are not public API (src/core/fs.hpp), so this file keeps their rules itself: a regular file of
// this user, no symlink, nothing for group or others (else refused, exit 7), written 0600 through a
// temp file + fsync + rename.
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
#include "output.hpp"
#include "setup_support.hpp"

namespace devicelogin::cli {
namespace {

constexpr std::string_view kCommand = "docker-credential";
constexpr std::string_view kSetupCommand = "setup-docker";
// The credHelpers value: docker runs "docker-credential-" + this.
constexpr std::string_view kHelperName = "devicelogin";
constexpr std::string_view kHelperExecutable = "docker-credential-devicelogin";
constexpr std::size_t kMaxConfigFile = 4 * 1024 * 1024;

struct DockerCredentialArgs {
  std::string operation;
  long long min_ttl = 300;
  bool verbose = false;
  bool version = false;  // -v/--version, as the reference helpers take it
};

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

Result<std::string> registry_map_path() {
  auto dir = devicelogin_config_dir();
  if (!dir) return std::unexpected(dir.error());
  return *dir + "/docker-registries.json";
}

// docker's own rule: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
Result<std::string> docker_config_path() {
  if (const char* dir = ::getenv("DOCKER_CONFIG"); dir != nullptr && dir[0] != '\0') {  // NOLINT(concurrency-mt-unsafe)
    return std::string(dir) + "/config.json";
  }
  const char* home = ::getenv("HOME");  // NOLINT(concurrency-mt-unsafe)
  if (home == nullptr || home[0] == '\0') return std::unexpected(error_of(ErrorCode::kConfig, "HOME is not set"));
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

// The registry map file: nullopt when there is none; kStorage when it is not a private regular
// file of this user (the rules the library applies to profiles and token files).
Result<std::optional<std::string>> read_private_file(const std::string& path, std::string_view what) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::string>{};
    if (errno == ELOOP) return std::unexpected(error_of(ErrorCode::kStorage, std::string(what) + " " + path + " is a symbolic link; refusing it"));
    return std::unexpected(error_of(ErrorCode::kStorage, "cannot read " + std::string(what) + " " + path + ": " + describe_errno(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::unexpected(error_of(ErrorCode::kStorage, std::string(what) + " " + path + " is not a regular file"));
  }
  if (st.st_uid != ::geteuid()) {
    return std::unexpected(error_of(ErrorCode::kStorage, std::string(what) + " " + path + " belongs to another user; refusing it"));
  }
  if ((st.st_mode & 077) != 0) {
    Error error = error_of(ErrorCode::kStorage, std::string(what) + " " + path +
                                                    " is accessible by group or others; refusing it (chmod 600 it)");
    error.remedy = Remedy::kFixPermissions;
    return std::unexpected(std::move(error));
  }
  int read_error = 0;
  auto text = read_all(fd.get(), 1024 * 1024, read_error);
  if (!text) return std::unexpected(error_of(ErrorCode::kStorage, "cannot read " + std::string(what) + " " + path + ": " + describe_errno(read_error)));
  return text;
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

Result<DockerRegistryMap> load_registry_map(const std::string& path) {
  auto text = read_private_file(path, "the docker registry map");
  if (!text) return std::unexpected(text.error());
  if (!*text) return DockerRegistryMap{};
  auto registries = parse_docker_registry_map(**text);
  if (!registries) {
    return std::unexpected(error_of(ErrorCode::kConfig, "the docker registry map " + path + " is malformed (" +
                                                            registries.error() + "); fix or remove it"));
  }
  return std::move(*registries);
}

// Reads all of stdin into `input`; false when it holds more than kDockerMaxInput bytes (then it
// holds one byte more, and the rest is not read).
bool read_stdin(Secret& input) {
  char buffer[4096];
  input.reserve(kDockerMaxInput + 1);
  while (input.size() <= kDockerMaxInput) {
    const std::size_t room = std::min(sizeof buffer, kDockerMaxInput + 1 - input.size());
    const ssize_t n = ::read(STDIN_FILENO, buffer, room);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    input.append(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
  ::explicit_bzero(buffer, sizeof buffer);
  return input.size() <= kDockerMaxInput;
}

// Input or a flag as an error line quotes it: sanitized, and only a short prefix.
std::string shown_prefix(std::string_view text) {
  constexpr std::size_t kShown = 80;
  std::string shown = sanitize_text(text.substr(0, kShown));
  if (text.size() > kShown) shown += "...";
  return shown;
}

// A refused input: the protocol's own message on stdout when it has one (the client recognises
// it), one line on stderr, exit 2.
int input_failure(const DockerInputError& error) {
  if (auto message = docker_protocol_message(error.problem); !message.empty()) {
    (void)write_stdout(std::string(message) + "\n");
  }
  return report_error(kCommand, error_of(ErrorCode::kUsage, error.message));
}

// No credentials here: the message docker's client recognises, exit 1. Docker then goes on
// without credentials, as for a registry no helper knows.
int not_found() {
  (void)write_stdout(std::string(kDockerNotFoundMessage) + "\n");
  return 1;
}

int run_docker_credential(const DockerCredentialArgs& args) {
  const std::string& op = args.operation;
  if (op.empty() && !args.version) {
    return report_error(kCommand, error_of(ErrorCode::kUsage, "no operation (expected get, store, erase, list or version)"));
  }
  if (op == "version" || (op.empty() && args.version)) return write_stdout(format_docker_version(DEVICELOGIN_VERSION)) ? 0 : 1;
  if (op != "get" && op != "store" && op != "erase" && op != "list") {
    return report_error(kCommand, error_of(ErrorCode::kUsage, "unknown operation \"" + shown_prefix(op) +
                                                                  "\" (expected get, store, erase, list or version)"));
  }
  if (args.min_ttl < 0) return report_error(kCommand, error_of(ErrorCode::kUsage, "--min-ttl must be 0 or more seconds"));
  auto map_path = registry_map_path();
  if (!map_path) return report_error(kCommand, map_path.error());
  if (op == "list") {
    // (docker writes a word on stdin for list; it means nothing)
    auto registries = load_registry_map(*map_path);
    if (!registries) return report_error(kCommand, registries.error());
    std::map<std::string, std::string> usernames;
    for (const auto& [host, entry] : *registries) {
      usernames[docker_credential_helper_keys(host).front()] = std::string(docker_username_for(entry));
    }
    return write_stdout(format_docker_list(usernames)) ? 0 : 1;
  }
  Secret input;
  if (!read_stdin(input)) return input_failure({DockerInputProblem::kMalformed, "more than 64 KiB of input"});
  if (op == "store") {
    // docker stores what `docker login` was given. Accepted and dropped: the token this helper
    // answers with lives in the profile's store, and the password typed there is not kept.
    auto request = parse_docker_store_request(input.reveal());
    if (!request) return input_failure(request.error());
    return 0;
  }
  auto server_url = parse_docker_server_url(input.reveal());
  if (!server_url) return input_failure(server_url.error());
  const auto host = docker_registry_host(*server_url);
  if (!host) {
    return input_failure({DockerInputProblem::kMalformed, "not a registry server URL: \"" + shown_prefix(*server_url) + "\""});
  }
  auto registries = load_registry_map(*map_path);
  if (!registries) return report_error(kCommand, registries.error());
  const auto entry = registries->find(*host);
  // A registry setup-docker did not name for a profile: nothing here, so docker asks no one else
  // for it and goes on without credentials.
  if (entry == registries->end()) return not_found();
  // Never an interactive login from inside docker: a login that is needed is one line on stderr
  // naming the command to run (exit 5), and docker's command fails with it.
  auto session = open_session(entry->second.profile, args.verbose);
  if (!session) return report_error(kCommand, session.error());
  if (op == "erase") {
    // `docker logout`: the token docker held is replaced by a refreshed one; the login is kept
    // (`devicelogin logout` ends it). Nothing to erase when nothing is stored.
    auto status = session->status();
    if (!status && status.error().code == ErrorCode::kNotLoggedIn) return not_found();
    if (!status) return report_error(kCommand, status.error());
    if (!status->logged_in()) return not_found();
    auto refreshed = session->refresh();
    if (!refreshed) return report_error(kCommand, refreshed.error());
    return 0;
  }
  auto token = session->access_token(args.min_ttl);
  if (!token) return report_error(kCommand, token.error());
  const Secret answer = format_docker_get_answer(*server_url, docker_username_for(entry->second), token->value);
  return write_stdout(answer.reveal()) ? 0 : 1;
}

// True when PATH has an executable docker-credential-devicelogin (docker finds helpers there).
bool helper_on_path() {
  const char* path = ::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
  if (path == nullptr) return false;
  std::string_view rest = path;
  while (true) {
    const std::size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + std::string(kHelperExecutable);
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    rest.remove_prefix(colon + 1);
  }
}

int run_setup_docker(const SetupDockerArgs& args) {
  auto usage = [](std::string message) { return report_error(kSetupCommand, error_of(ErrorCode::kUsage, std::move(message))); };
  const auto host = docker_registry_host(args.registry);
  if (!host) {
    return usage("--registry needs a registry host (registry.example.com, localhost:5000, docker.io), got \"" +
                 shown_prefix(args.registry) + "\"");
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
    if (!valid_profile_name(profile)) return usage("invalid profile name \"" + shown_prefix(profile) + "\"");
  }
  auto map_path = registry_map_path();
  if (!map_path) return report_error(kSetupCommand, map_path.error());
  // Parallel runs each read the files before the others wrote them, and the last
  // rename won (8 runs kept 3 entries). This user's setup-docker runs take turns over the whole
  // read-edit-write of both files. (docker itself takes no lock on config.json.)
  auto lock = SetupLock::acquire(*map_path + ".lock");
  if (!lock) return report_error(kSetupCommand, lock.error());
  auto registries = load_registry_map(*map_path);
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
    if (auto made = make_directories(parent_of(*map_path)); !made) return made;
    return write_atomically(*map_path, format_docker_registry_map(updated), 0600);
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
  if (!helper_on_path()) {
    say("note: docker-credential-devicelogin (installed next to devicelogin) is not on PATH, where docker looks for it.");
  }
  return 0;
}

}  // namespace

void setup_docker_credential(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DockerCredentialArgs>();
  CLI::App* cmd = app.add_subcommand(
      "docker-credential",
      "docker credential helper (docker-credential-helpers protocol), run by docker, skopeo and podman as "
      "docker-credential-devicelogin; set it up with devicelogin setup-docker. get prints "
      "{\"ServerURL\",\"Username\",\"Secret\"} with the access token as Secret for a configured registry only (else "
      "docker's not-found answer, exit 1); erase refreshes the token; store accepts and drops; list prints the "
      "configured registries");
  cmd->add_option("--min-ttl", args->min_ttl, "Refresh first when the token expires within this many seconds (default 300)");
  add_verbose_flag(*cmd, args->verbose);
  cmd->add_flag("-v,--version", args->version, "Print the helper's version (as the operation version does)");
  cmd->add_option("operation", args->operation, "get, store, erase, list or version");
  cmd->callback([args, &exit_code] { exit_code = run_docker_credential(*args); });

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
