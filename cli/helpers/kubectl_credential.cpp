// kubectl's exec credential plugin (kube_exec.hpp): `devicelogin kubectl-credential`, which kubectl
// runs for a kubeconfig user whose `exec` entry names it (written by setup-kubectl).
#include "helpers.hpp"

namespace devicelogin::cli::helpers {

namespace {
Outcome usage(std::string message) { return Outcome::failure(Error{ErrorCode::kUsage, std::move(message), "", 0}); }
}  // namespace

Outcome kubectl_credential(const KubectlCredentialArgs& args, const char* exec_info, TokenSource& source) {
  auto info = parse_kube_exec_info(exec_info);
  if (!info) return usage(info.error());
  if (args.min_ttl < 0) return usage("--min-ttl must be 0 or more seconds");
  // Before the store is touched: a server other than the recorded one gets nothing, not even a refresh.
  const std::optional<KubeCluster> recorded = args.recorded.server.empty() ? std::nullopt : std::optional(args.recorded);
  if (auto allowed = check_kube_destination(info->cluster, recorded); !allowed) return usage(allowed.error());
  // Never a login from inside kubectl, even when spec.interactive says it could have the
  // terminal: a missing or unusable login is the one-line error (exit 5) that names the command.
  source.set_audit_consumer("kubectl", info->cluster ? info->cluster->server : args.recorded.server);
  auto token = source.access_token(args.profile, args.min_ttl);
  if (!token) {
    if (token.error().fall_through) return Outcome::fall_through();
    return Outcome::failure(token.error().error);
  }
  if (auto refused = bearer_only(*token, "kubectl")) return Outcome::failure(std::move(*refused));
  return Outcome::answer(format_exec_credential(info->api_version, token->reveal(), token->expires_at));
}

std::optional<KubectlCredentialArgs> kubectl_credential_fast_args(int argc, char** argv) {
  FastArgs args(argc, argv);
  if (!args.parse({"--profile", "--min-ttl", "--server", "--certificate-authority-data", "--tls-server-name"},
                  {"--insecure-skip-tls-verify"}) ||
      !args.positional().empty()) {
    return std::nullopt;
  }
  KubectlCredentialArgs parsed;
  const auto min_ttl = args.seconds("--min-ttl", parsed.min_ttl);
  if (!min_ttl) return std::nullopt;
  parsed.min_ttl = *min_ttl;
  parsed.profile = std::string(args.value("--profile").value_or(""));
  parsed.recorded = KubeCluster{std::string(args.value("--server").value_or("")),
                                std::string(args.value("--certificate-authority-data").value_or("")),
                                std::string(args.value("--tls-server-name").value_or("")), args.has("--insecure-skip-tls-verify")};
  return parsed;
}

}  // namespace devicelogin::cli::helpers
