// The `devicelogin` executable. It serves `devicelogin token` with a fresh cached token itself,
// linking only core + store (no libcurl, no OpenSSL, no D-Bus), and hands every other case to
// the full CLI in the devicelogin-cli plugin. The fast path only ever prints a token or falls
// through: every error, refresh and message is the plugin's job, so there is one behaviour.
#include <dlfcn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/profile.hpp"
#include "devicelogin/token_store.hpp"
#include "store/local_stores.hpp"

namespace {

using namespace devicelogin;

// Before any secret is read: no core dumps, not ptrace-attachable by other same-user processes.
void harden_process() {
  rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// `token [--profile NAME] [--min-ttl SECONDS] [--header]` with a fresh token in a fast store: prints it and
// returns 0. Anything else (other flags, no profile, expiring token, any error): nullopt.
std::optional<int> try_fast_token(int argc, char** argv) {
  std::string profile_name;  // empty: the default profile
  long long min_ttl = 60;
  bool header = false;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    auto take = [&](std::string_view flag) {
      if (arg == flag && i + 1 < argc) {
        value = argv[++i];
        return true;
      }
      if (arg.size() > flag.size() + 1 && arg.starts_with(flag) && arg[flag.size()] == '=') {
        value = arg.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    if (take("--profile")) {
      profile_name = value;
    } else if (take("--min-ttl")) {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), min_ttl);
      if (ec != std::errc{} || end != value.data() + value.size() || min_ttl < 0) return std::nullopt;
    } else if (arg == "--header") {
      header = true;
    } else {
      return std::nullopt;
    }
  }
  auto profiles = ProfileStore::from_environment();
  if (!profiles) return std::nullopt;
  if (profile_name.empty()) {
    // $DEVICELOGIN_PROFILE, else the one `devicelogin use` chose (one small file), else "default".
    auto chosen = profiles->default_name();
    if (!chosen) return std::nullopt;
    profile_name = std::move(*chosen);
  }
  auto profile = profiles->load(profile_name);
  if (!profile) return std::nullopt;
  auto store = open_local_token_store(profile->store);  // file or kernel-keyring; never D-Bus
  if (!store) return std::nullopt;
  auto tokens = (*store)->load(profile_name);
  if (!tokens || !*tokens) return std::nullopt;
  if (!(*tokens)->fresh_at(static_cast<long long>(std::time(nullptr)), min_ttl)) return std::nullopt;
  // Issued to another server or client than the profile names: the plugin explains (exit 5).
  if (!bound_to(**tokens, profile->endpoints.token, profile->client_id)) return std::nullopt;
  Secret line;
  if (header) line.append("Authorization: " + authorization_scheme((*tokens)->token_type) + " ");
  line.append((*tokens)->access_token.reveal());
  line.append("\n");
  return write_all(STDOUT_FILENO, line.reveal()) ? 0 : 1;
}

// The command module's absolute path (issue 8): an absolute path means no search at all (no
// RUNPATH, LD_LIBRARY_PATH or current directory). It is this executable's directory, read where
// the loader reads it for $ORIGIN (/proc/self/exe, symlinks resolved), plus the install layout's
// relative path, which the build tree mirrors. Not left to the loader's own "$ORIGIN" expansion
// in dlopen(), which takes the directory of whatever calls dlopen: a sanitizer runtime or an
// LD_PRELOAD library that wraps dlopen would be taken for the caller. That expansion is only the
// fallback when /proc is not mounted.
std::string module_path() {
  char self[4096];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self);
  if (length > 0 && static_cast<std::size_t>(length) < sizeof self) {
    std::string_view executable(self, static_cast<std::size_t>(length));
    const std::size_t slash = executable.rfind('/');
    if (slash != std::string_view::npos) {
      return std::string(executable.substr(0, slash + 1)) + DEVICELOGIN_MODULE_RELATIVE_PATH;
    }
  }
  return "$ORIGIN/" DEVICELOGIN_MODULE_RELATIVE_PATH;
}

}  // namespace

int main(int argc, char** argv) {
  harden_process();
  // Run as docker-credential-devicelogin (the symlink docker runs as its credential helper):
  // `docker-credential-devicelogin OP` is `devicelogin docker-credential OP`.
  std::string_view invoked_as = argc > 0 ? argv[0] : "";
  invoked_as = invoked_as.substr(invoked_as.rfind('/') + 1);
  std::vector<char*> helper_argv;
  if (invoked_as == "docker-credential-devicelogin") {
    static char subcommand[] = "docker-credential";
    helper_argv.assign(argv, argv + argc);
    helper_argv.insert(helper_argv.begin() + 1, subcommand);
    helper_argv.push_back(nullptr);
    argc += 1;
    argv = helper_argv.data();
  }
  if (argc >= 2 && std::strcmp(argv[1], "token") == 0) {
    if (auto code = try_fast_token(argc, argv)) return *code;
  }
  const std::string path = module_path();
  void* plugin = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (plugin == nullptr) {
    // The last words before exit 1: nothing to do if stderr fails. One thread here, so dlerror is safe.
    (void)std::fprintf(stderr, "devicelogin: cannot load its command module devicelogin-cli.so: %s; reinstall devicelogin\n",
                       ::dlerror());  // NOLINT(concurrency-mt-unsafe)
    return 1;
  }
  using Entry = int (*)(int, char**);
  auto entry = reinterpret_cast<Entry>(::dlsym(plugin, "devicelogin_cli_main"));
  if (entry == nullptr) {
    (void)std::fprintf(stderr, "devicelogin: devicelogin-cli.so is not a devicelogin command module; reinstall devicelogin\n");
    return 1;
  }
  return entry(argc, argv);
}
