#pragma once
// One setup_X per subcommand (CLI11's subcommands-in-files pattern). Each registers its
// subcommand on `app` and, when it runs, stores the process exit code in `exit_code`.
#include <CLI/CLI.hpp>
#include <memory>

#include "helpers/helpers.hpp"

namespace devicelogin::cli {

void setup_login(CLI::App& app, int& exit_code);
void setup_status(CLI::App& app, int& exit_code);
void setup_token(CLI::App& app, int& exit_code);
void setup_refresh(CLI::App& app, int& exit_code);
void setup_logout(CLI::App& app, int& exit_code);
void setup_serve(CLI::App& app, int& exit_code);
void setup_demo(CLI::App& app, int& exit_code);
void setup_exec(CLI::App& app, int& exit_code);
void setup_api(CLI::App& app, int& exit_code);
// The credential helpers' commands (helpers/commands.cpp): token is above; git-credential,
// docker-credential, kubectl-credential.
void setup_git_credential(CLI::App& app, int& exit_code);
void setup_docker_credential(CLI::App& app, int& exit_code);
void setup_kubectl_credential(CLI::App& app, int& exit_code);
// The token source of those commands, `exec` and `api`: the agent that DEVICELOGIN_AGENT names,
// else the local sign-in through the Session facade.
[[nodiscard]] std::unique_ptr<helpers::TokenSource> make_token_source(bool verbose);
// Their setup commands: setup-git (git.cpp), setup-docker (docker.cpp), setup-kubectl (kube.cpp).
void setup_git(CLI::App& app, int& exit_code);
void setup_docker(CLI::App& app, int& exit_code);
void setup_kubectl(CLI::App& app, int& exit_code);
void setup_profiles(CLI::App& app, int& exit_code);
void setup_use(CLI::App& app, int& exit_code);
// `policy` (policy.cpp): the machine policy in effect.
void setup_policy(CLI::App& app, int& exit_code);
// `audit` (audit.cpp): the audit trail.
void setup_audit(CLI::App& app, int& exit_code);
// The token agent (agent.cpp) and the ssh lines that forward it (setup_ssh.cpp).
void setup_agent(CLI::App& app, int& exit_code);
void setup_ssh(CLI::App& app, int& exit_code);
// Hidden `__doc man|bash|zsh|fish`, registered last: walks every other command's definitions.
void setup_doc(CLI::App& app, int& exit_code);

// The flags several commands share, declared once (flags.cpp). An empty `profile` stands for the
// default profile (resolve_profile); a non-empty one is the command's own default (demo).
CLI::Option* add_profile_flag(CLI::App& command, std::string& profile);
// `lines`: the command prints several JSON lines (events) rather than one object.
CLI::Option* add_json_flag(CLI::App& command, bool& json, bool lines = false);
CLI::Option* add_verbose_flag(CLI::App& command, bool& verbose);

}  // namespace devicelogin::cli
