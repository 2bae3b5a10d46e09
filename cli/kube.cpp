// `devicelogin setup-kubectl`, which writes the kubeconfig user entry whose `exec` runs the
// kubectl credential plugin (cli/helpers/kubectl_credential.cpp) (and a context joining it to a cluster) through `kubectl config`, so that
// the kubeconfig is edited by the program that owns its format. kubectl's argv holds the
// executable's path and the profile's name, never a token.
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <charconv>
#include <expected>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "devicelogin/http_client.hpp"
#include "devicelogin/sanitize.hpp"
#include "kube_exec.hpp"
#include "output.hpp"
#include "process.hpp"

namespace devicelogin::cli {
namespace {

constexpr std::string_view kSetupCommand = "setup-kubectl";
// kubectl's own output that setup-kubectl reads (cluster names, a version, one field).
constexpr std::size_t kMaxKubectlOutput = 4 * 1024 * 1024;

struct SetupKubectlArgs {
  std::string profile;  // empty: the default profile
  std::string cluster;
  std::string user;     // empty: devicelogin-PROFILE
  std::string context;  // empty: the cluster's name
  std::string api_version;  // empty: v1, or v1beta1 for a kubectl older than 1.22
  bool remove = false;
};

Error error_of(ErrorCode code, std::string message) { return Error{code, std::move(message), "", 0}; }

using KubectlRun = ProgramRun;

// How long one kubectl run may take (it reads and writes the kubeconfig only).
constexpr std::chrono::seconds kKubectlDeadline{60};

// Runs `kubectl ARGS` (found on PATH, no shell) with an empty stdin and both outputs kept.
KubectlRun run_kubectl(const std::vector<std::string>& args) { return run_program("kubectl", args, {}, kKubectlDeadline, kMaxKubectlOutput); }

// "kubectl config …  failed: <kubectl's first stderr line>" as one line.
Error kubectl_failed(const std::vector<std::string>& args, const KubectlRun& run) {
  std::string what = "kubectl";
  for (std::size_t i = 0; i < args.size() && i < 2; ++i) what += " " + args[i];
  if (run.status < 0) return error_of(ErrorCode::kConfig, "cannot run kubectl (is it installed and on PATH?)");
  std::string first = run.err.substr(0, run.err.find('\n'));
  if (first.size() > 300) first.resize(300);
  return error_of(ErrorCode::kConfig, what + " failed (exit " + std::to_string(run.status) + ")" +
                                          (first.empty() ? std::string() : ": " + sanitize_text(first)));
}

// The client's minor version from `kubectl version --client -o json` ("32", "20+"), or nullopt.
std::optional<int> kubectl_minor_version() {
  const KubectlRun run = run_kubectl({"version", "--client", "-o", "json"});
  if (run.status != 0) return std::nullopt;
  const nlohmann::json doc = json_nesting_within(run.out) ? nlohmann::json::parse(run.out, nullptr, false) : nlohmann::json(nlohmann::json::value_t::discarded);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  const auto client = doc.find("clientVersion");
  if (client == doc.end() || !client->is_object()) return std::nullopt;
  const auto minor = client->find("minor");
  if (minor == client->end() || !minor->is_string()) return std::nullopt;
  const auto& text = minor->get_ref<const std::string&>();
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end == text.data()) return std::nullopt;
  return value;
}

bool valid_kube_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    // kubeconfig names are free text, but `kubectl config set` paths split on '.': keep to the
    // characters of DNS names, ':' and '@' (EKS and GKE cluster names), '_' and '/'.
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == ':' || c == '@' || c == '/' || c == '.';
    if (!ok) return false;
  }
  return name.front() != '-';
}

int run_setup_kubectl(const SetupKubectlArgs& args) {
  auto usage = [](std::string message) { return report_error(kSetupCommand, error_of(ErrorCode::kUsage, std::move(message))); };
  auto resolved = resolve_profile(args.profile);
  if (!resolved) return report_error(kSetupCommand, resolved.error());
  const std::string& profile = *resolved;
  if (!valid_profile_name(profile)) return usage("invalid profile name \"" + sanitize_text(profile) + "\"");
  if (!valid_kube_name(args.cluster)) return usage("invalid cluster name \"" + sanitize_text(args.cluster) + "\"");
  const std::string user = args.user.empty() ? "devicelogin-" + profile : args.user;
  const std::string context = args.context.empty() ? args.cluster : args.context;
  if (!valid_kube_name(user)) return usage("invalid user name \"" + sanitize_text(user) + "\"");
  if (!valid_kube_name(context)) return usage("invalid context name \"" + sanitize_text(context) + "\"");
  // `kubectl config set` paths split on '.', so the user's own path needs names without one.
  if (user.find('.') != std::string::npos) return usage("the user name may not contain '.' (kubectl config paths split on it)");
  if (!args.api_version.empty() && args.api_version != "v1" && args.api_version != "v1beta1") {
    return usage("--api-version must be v1 or v1beta1, got \"" + sanitize_text(args.api_version) + "\"");
  }
  auto kubectl = [](const std::vector<std::string>& words) -> std::optional<Error> {
    const KubectlRun run = run_kubectl(words);
    if (run.status == 0) return std::nullopt;
    return kubectl_failed(words, run);
  };

  // The cluster must be in the kubeconfig already (a typo would otherwise make a context that
  // points nowhere).
  const std::vector<std::string> list = {"config", "get-clusters"};
  const KubectlRun clusters = run_kubectl(list);
  if (clusters.status != 0) return report_error(kSetupCommand, kubectl_failed(list, clusters));
  bool known = false;
  std::size_t start = 0;
  while (start < clusters.out.size()) {
    const std::size_t end = clusters.out.find('\n', start);
    const std::string line = clusters.out.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (start > 0 && line == args.cluster) known = true;  // the first line is the NAME header
    if (end == std::string::npos) break;
    start = end + 1;
  }

  if (args.remove) {
    // The context goes only when it is the one this command made (it joins the cluster to this user).
    const KubectlRun owner = run_kubectl({"config", "view", "-o", "jsonpath={.contexts[?(@.name==\"" + context + "\")].context.user}"});
    const bool our_context = owner.status == 0 && owner.out == user;
    if (our_context) {
      if (auto failed = kubectl({"config", "delete-context", context})) return report_error(kSetupCommand, *failed);
    }
    const KubectlRun users = run_kubectl({"config", "view", "-o", "jsonpath={.users[?(@.name==\"" + user + "\")].name}"});
    const bool our_user = users.status == 0 && users.out == user;
    if (our_user) {
      if (auto failed = kubectl({"config", "unset", "users." + user})) return report_error(kSetupCommand, *failed);
    }
    if (!our_context && !our_user) {
      say("Nothing to remove: the kubeconfig has no user " + user + " and no context " + context + " using it.");
    } else {
      say(std::string("Removed ") + (our_user ? "the kubectl user " + user : std::string()) +
          (our_user && our_context ? " and " : "") + (our_context ? "the context " + context : std::string()) + ".");
    }
    return 0;
  }
  if (!known) {
    return usage("the kubeconfig has no cluster \"" + sanitize_text(args.cluster) +
                 "\"; add it first (kubectl config set-cluster), or name one from kubectl config get-clusters");
  }

  // What kubectl's exec entry will record about the cluster: the plugin gives the token only when
  // kubectl is about to talk to this server with this trust (kube_exec.hpp). The plain fields are
  // read, and checked, before anything is written.
  auto cluster_field = [&](const std::vector<std::string>& words) -> std::expected<std::string, Error> {
    const KubectlRun run = run_kubectl(words);
    if (run.status != 0) return std::unexpected(kubectl_failed(words, run));
    return run.out;
  };
  auto named_field = [&](std::string_view field) {
    return cluster_field({"config", "view", "-o", "jsonpath={.clusters[?(@.name==\"" + args.cluster + "\")].cluster." + std::string(field) + "}"});
  };
  KubeCluster record;
  for (auto [field, out] : {std::pair{"server", &record.server}, std::pair{"tls-server-name", &record.tls_server_name}}) {
    auto value = named_field(field);
    if (!value) return report_error(kSetupCommand, value.error());
    *out = std::move(*value);
  }
  auto insecure = named_field("insecure-skip-tls-verify");
  if (!insecure) return report_error(kSetupCommand, insecure.error());
  record.insecure_skip_tls_verify = *insecure == "true";
  const auto server = normalize_kube_server(record.server);
  if (!server) {
    return usage("cluster " + args.cluster + "'s server \"" + sanitize_text(record.server.substr(0, 200)) +
                 "\" is not an https:// URL (kubectl config set-cluster " + args.cluster + " --server=https://…)");
  }
  // The project's one loopback rule (the library's, as for every other URL).
  if (!server->starts_with("https://") && !is_loopback_url(*server)) {
    return usage("cluster " + args.cluster + "'s server " + *server +
                 " is not https: kubectl would send the token unencrypted (http is for loopback only)");
  }
  // `kubectl config set-credentials --exec-arg` splits its value on ','.
  if (record.server.find(',') != std::string::npos || record.tls_server_name.find(',') != std::string::npos ||
      record.tls_server_name.find_first_of("\r\n") != std::string::npos) {
    return usage("cluster " + args.cluster + "'s server or tls-server-name has a ',' or a line break, which kubectl config set-credentials cannot record");
  }

  // Checked before anything is written: `config set-credentials --exec-provide-cluster-info`
  // (which the destination rule needs) came with kubectl 1.30.
  const auto minor = kubectl_minor_version();
  if (minor && *minor < 30) {
    return usage("kubectl 1." + std::to_string(*minor) +
                 " cannot record provideClusterInfo (kubectl config set-credentials --exec-provide-cluster-info came "
                 "with 1.30), without which the plugin cannot tell which server kubectl talks to; use kubectl 1.30 or newer");
  }
  std::string api = args.api_version;
  if (api.empty()) {
    // v1 from kubectl 1.22 on; older clients speak only v1beta1.
    api = minor && *minor < 22 ? "v1beta1" : "v1";
  }
  char self[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (length <= 0) return report_error(kSetupCommand, error_of(ErrorCode::kConfig, "cannot find the devicelogin executable"));
  const std::string executable(self, static_cast<std::size_t>(length));
  const std::string api_version = "client.authentication.k8s.io/" + api;

  if (auto failed = kubectl({"config", "set-context", context, "--cluster=" + args.cluster, "--user=" + user})) {
    return report_error(kSetupCommand, *failed);
  }
  // The CA as kubectl will hand it over (certificate-authority-data, or the certificate-authority
  // file's content): through the context just written, minified to its cluster and user, so that
  // another entry's missing file cannot fail --flatten. The user must exist for that; a bare
  // set-credentials creates it and changes nothing in an existing one.
  if (auto failed = kubectl({"config", "set-credentials", user})) return report_error(kSetupCommand, *failed);
  auto ca = cluster_field({"config", "view", "--raw", "--flatten", "--minify", "--context", context, "-o",
                           "jsonpath={.clusters[0].cluster.certificate-authority-data}"});
  if (!ca) return report_error(kSetupCommand, ca.error());
  record.certificate_authority_data = std::move(*ca);
  if (record.certificate_authority_data.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != std::string::npos) {
    return report_error(kSetupCommand, error_of(ErrorCode::kConfig, "kubectl config view gave cluster " + args.cluster +
                                                                       "'s certificate-authority-data in a form that is not base64"));
  }

  // The whole exec entry each time (set-credentials replaces its args), so running it again
  // changes nothing. The profile is named explicitly: a later `devicelogin use` must not
  // redirect kubectl. provideClusterInfo makes kubectl say which server it is about to talk to.
  std::vector<std::string> words = {"config", "set-credentials", user, "--exec-command=" + executable,
                                    "--exec-api-version=" + api_version, "--exec-arg=kubectl-credential",
                                    "--exec-arg=--profile", "--exec-arg=" + profile,
                                    "--exec-arg=--server", "--exec-arg=" + *server};
  if (!record.certificate_authority_data.empty()) {
    words.emplace_back("--exec-arg=--certificate-authority-data");
    words.emplace_back("--exec-arg=" + record.certificate_authority_data);
  }
  if (!record.tls_server_name.empty()) {
    words.emplace_back("--exec-arg=--tls-server-name");
    words.emplace_back("--exec-arg=" + record.tls_server_name);
  }
  if (record.insecure_skip_tls_verify) words.emplace_back("--exec-arg=--insecure-skip-tls-verify");
  words.emplace_back("--exec-provide-cluster-info=true");
  // v1 requires interactiveMode; Never: the plugin never asks anything on the terminal.
  if (api == "v1") words.emplace_back("--exec-interactive-mode=Never");
  if (auto failed = kubectl(words)) return report_error(kSetupCommand, *failed);
  say("kubectl now asks devicelogin (profile " + profile + ") for the token of user " + user + ", given only for " + *server +
      "; context " + context + " joins it to cluster " + args.cluster + " (kubectl --context " + context +
      ", or kubectl config use-context " + context + ").");
  return 0;
}

}  // namespace

void setup_kubectl(CLI::App& app, int& exit_code) {
  auto setup = std::make_shared<SetupKubectlArgs>();
  CLI::App* setup_cmd = app.add_subcommand(
      "setup-kubectl",
      "Write a kubeconfig user that runs devicelogin kubectl-credential, and a context joining it to a cluster "
      "(through kubectl config; $KUBECONFIG is respected); idempotent");
  add_profile_flag(*setup_cmd, setup->profile);
  setup_cmd->add_option("--cluster", setup->cluster, "The kubeconfig cluster the context uses (kubectl config get-clusters)")->required();
  setup_cmd->add_option("--user", setup->user, "The kubeconfig user entry to write (default devicelogin-PROFILE)");
  setup_cmd->add_option("--context", setup->context, "The context to write (default: the cluster's name)");
  setup_cmd->add_option("--api-version", setup->api_version,
                        "v1 or v1beta1 (default v1; v1beta1 when kubectl is older than 1.22)");
  setup_cmd->add_flag("--remove", setup->remove, "Remove the user entry, and the context when it joins that user");
  setup_cmd->callback([setup, &exit_code] { exit_code = run_setup_kubectl(*setup); });
}

}  // namespace devicelogin::cli
