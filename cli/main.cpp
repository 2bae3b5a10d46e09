// The full CLI's commands (devicelogin-cli, which the `devicelogin` executable runs for everything
// its fast paths do not answer; cli_main.cpp is its main()).
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>

#include "caller_state.hpp"
#include "devicelogin/policy.hpp"
#include "commands.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

CallerState g_caller;
bool g_caller_noted = false;

}  // namespace

void note_caller_state() {
  if (g_caller_noted) return;
  g_caller_noted = true;
  if (rlimit limit{}; ::getrlimit(RLIMIT_CORE, &limit) == 0) g_caller.core_limit = limit;
  sigemptyset(&g_caller.ignored);
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    struct sigaction current{};
    if (::sigaction(signal_number, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) {
      sigaddset(&g_caller.ignored, signal_number);
    }
  }
  ::pthread_sigmask(SIG_SETMASK, nullptr, &g_caller.blocked);
  g_caller.descriptors = open_descriptors();
}

const CallerState& caller_state() { return g_caller; }

}  // namespace devicelogin::cli

extern "C" int devicelogin_cli_main(int argc, char** argv) {
  using namespace devicelogin::cli;
  note_caller_state();
  // Every command that runs a program and waits for it (setup-git's git, setup-kubectl's kubectl)
  // needs its exit status: a caller that ignored SIGCHLD would have the kernel reap it first
  // (waitpid fails with ECHILD). `exec` hands the command the caller's disposition back.
  if (sigismember(&caller_state().ignored, SIGCHLD) == 1) {
    struct sigaction default_action{};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    ::sigaction(SIGCHLD, &default_action, nullptr);
  }
  CLI::App app{"devicelogin: sign in from the terminal with the OAuth 2.0 Device Authorization Grant (RFC 8628)\n"
               "and keep the tokens safe. Exit codes: 0 ok, 1 other failure, 2 usage or configuration,\n"
               "3 access denied, 4 device code expired, 5 not logged in or re-login required,\n"
               "6 network or server error, 7 storage error, 8 api: HTTP status not 2xx, 130 cancelled;\n"
               "exec: the command's own status (126 cannot run, 127 not found); docker-credential: 1\n"
               "no credentials for that registry (docker's not-found answer).",
               "devicelogin"};
  app.set_version_flag("--version", std::string("devicelogin ") + DEVICELOGIN_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  setup_login(app, exit_code);
  setup_status(app, exit_code);
  setup_token(app, exit_code);
  setup_refresh(app, exit_code);
  setup_logout(app, exit_code);
  setup_serve(app, exit_code);
  setup_demo(app, exit_code);
  setup_exec(app, exit_code);
  setup_api(app, exit_code);
  setup_git_credential(app, exit_code);
  setup_git(app, exit_code);
  setup_docker_credential(app, exit_code);
  setup_docker(app, exit_code);
  setup_kubectl_credential(app, exit_code);
  setup_kubectl(app, exit_code);
  setup_profiles(app, exit_code);
  setup_use(app, exit_code);
  setup_policy(app, exit_code);
  setup_audit(app, exit_code);
  setup_agent(app, exit_code);
  setup_ssh(app, exit_code);
  setup_doc(app, exit_code);
  // A machine policy that cannot be honoured (not root's, writable by others, invalid) stops every
  // command: going on without it would do what the administrator did not allow. (Not the build's
  // own documentation generator, which touches no token.)
  if (argc < 2 || std::string_view(argv[1]) != "__doc") {
    if (auto policy = devicelogin::load_machine_policy(); !policy) {
      say("devicelogin: " + render_error(policy.error()));
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the problem; usage errors exit 2.
    std::string message = e.what();
    if (message.empty()) message = "invalid arguments";
    say("devicelogin: " + message + " (see: devicelogin --help)");
    return 2;
  } catch (const std::exception& e) {
    say(std::string("devicelogin: internal error: ") + e.what());
    return 1;
  }
  return exit_code;
}
