// The helpers as commands of the full CLI: CLI11 reads their arguments into the helpers' own
// argument structs, the helper runs with a SessionTokenSource, and its Outcome becomes stdout,
// one error line on stderr and the exit code.
#include <cstdlib>
#include <memory>

#include "commands.hpp"
#include "helpers.hpp"
#include "output.hpp"
#include "session_source.hpp"
#include "agent_source.hpp"

namespace devicelogin::cli {
namespace {

using helpers::Outcome;

int finish(std::string_view command, const Outcome& outcome) {
  switch (outcome.kind) {
    case Outcome::Kind::kAnswer:
      return write_stdout(outcome.out.reveal()) ? 0 : 1;
    case Outcome::Kind::kNotMine:
      (void)write_stdout(outcome.out.reveal());
      return outcome.exit_code;
    case Outcome::Kind::kError:
      if (!outcome.out.empty()) (void)write_stdout(outcome.out.reveal());
      return report_error(command, outcome.error);
    case Outcome::Kind::kFallThrough:
      break;
  }
  // A SessionTokenSource never falls through.
  return report_error(command, Error{ErrorCode::kInternal, "the token source gave no answer", "", 0});
}

}  // namespace

std::unique_ptr<helpers::TokenSource> make_token_source(bool verbose) {
  if (auto socket = helpers::agent_socket_from_environment()) return std::make_unique<helpers::AgentTokenSource>(std::move(*socket));
  return std::make_unique<helpers::SessionTokenSource>(verbose);
}

void setup_token(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<helpers::TokenArgs>();
  CLI::App* cmd = app.add_subcommand("token", "Print a valid access token on stdout, refreshing it first if needed");
  add_profile_flag(*cmd, args->profile);
  cmd->add_option("--min-ttl", args->min_ttl, "Refresh when the token expires within this many seconds (default 60)");
  cmd->add_flag("--header", args->header, "Print `Authorization: <type> <token>` (for `curl -H @-`) instead of the bare token");
  add_verbose_flag(*cmd, args->verbose);
  cmd->callback([args, &exit_code] {
    const auto source = make_token_source(args->verbose);
    exit_code = finish("token", helpers::token(*args, *source));
  });
}

void setup_git_credential(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<helpers::GitCredentialArgs>();
  CLI::App* cmd = app.add_subcommand(
      "git-credential",
      "git credential helper (gitcredentials(7)); set it up with devicelogin setup-git. get prints the access token "
      "as the password for the configured host only; erase (git saw it rejected) refreshes it so the next get returns "
      "another; store does nothing");
  add_profile_flag(*cmd, args->profile);
  cmd->add_option("--host", args->host, "The host (https) or http(s) origin this helper answers for")->required();
  cmd->add_option("--username", args->username, "The username to give git (default: git's, else x-access-token)");
  cmd->add_option("--min-ttl", args->min_ttl, "Refresh first when the token expires within this many seconds (default 300)");
  add_verbose_flag(*cmd, args->verbose);
  cmd->add_option("operation", args->operation, "get, store or erase")->required();
  cmd->callback([args, &exit_code] {
    if (auto refused = helper_refused_by_policy("git")) {
      exit_code = report_error("git-credential", *refused);
      return;
    }
    const auto source = make_token_source(args->verbose);
    helpers::StdinInput input;
    exit_code = finish("git-credential", helpers::git_credential(*args, input, *source));
  });
}

void setup_docker_credential(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<helpers::DockerCredentialArgs>();
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
  cmd->callback([args, &exit_code] {
    if (auto refused = helper_refused_by_policy("docker")) {
      exit_code = report_error("docker-credential", *refused);
      return;
    }
    const auto source = make_token_source(args->verbose);
    helpers::StdinInput input;
    exit_code = finish("docker-credential", helpers::docker_credential(*args, input, *source));
  });
}

void setup_kubectl_credential(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<helpers::KubectlCredentialArgs>();
  CLI::App* cmd = app.add_subcommand(
      "kubectl-credential",
      "kubectl exec credential plugin: prints an ExecCredential (apiVersion from KUBERNETES_EXEC_INFO, v1 or v1beta1) "
      "with the access token and its expiry; never signs in from inside kubectl (exit 5 when a login is needed); set it "
      "up with devicelogin setup-kubectl");
  add_profile_flag(*cmd, args->profile);
  cmd->add_option("--min-ttl", args->min_ttl, "Refresh first when the token expires within this many seconds (default 60)");
  add_verbose_flag(*cmd, args->verbose);
  cmd->add_option("--server", args->recorded.server,
                  "The cluster's server URL setup-kubectl recorded: the token is given only when kubectl is about to talk to it");
  cmd->add_option("--certificate-authority-data", args->recorded.certificate_authority_data,
                  "The cluster's CA (base64) setup-kubectl recorded: kubectl must trust this one (left out: the cluster names none)");
  cmd->add_option("--tls-server-name", args->recorded.tls_server_name, "The cluster's TLS server name setup-kubectl recorded");
  cmd->add_flag("--insecure-skip-tls-verify", args->recorded.insecure_skip_tls_verify,
                "setup-kubectl recorded that the cluster skips TLS verification");
  cmd->callback([args, &exit_code] {
    if (auto refused = helper_refused_by_policy("kubectl")) {
      exit_code = report_error("kubectl-credential", *refused);
      return;
    }
    const auto source = make_token_source(args->verbose);
    exit_code = finish("kubectl-credential",
                       helpers::kubectl_credential(*args, std::getenv("KUBERNETES_EXEC_INFO"), *source));  // NOLINT(concurrency-mt-unsafe)
  });
}

}  // namespace devicelogin::cli
