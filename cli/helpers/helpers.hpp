#pragma once
// The credential helpers, the CLI's bottom layer: `token` (and `token --header`), `git-credential`,
// `docker-credential` and `kubectl-credential`, and the token `exec` hands on. Each helper is one
// function: its arguments, its input and a TokenSource in; an Outcome out. Two callers run the
// same functions:
//  - the `devicelogin` executable's fast path (cli/fast_main.cpp) with LocalTokenSource, the
//    local stores read without libcurl, OpenSSL or D-Bus. It only ever prints an answer: when the
//    source cannot serve the token (it would need a refresh, or the store is Secret Service) or
//    the helper would report an error, the command falls through to the full CLI, which runs the
//    same function again and explains;
//  - the full CLI (helpers/commands.cpp) with SessionTokenSource, which refreshes and reports.
// So a helper's rules exist once, and the two paths answer with the same bytes
// (tests/install/fast_helpers_test.sh compares them). How to add a helper: docs/architecture.md.
//
// Uses std, Secret and the public value types only, so that the executable can link it without
// the Session facade.
#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"
#include "devicelogin/token_set.hpp"
#include "docker_protocol.hpp"
#include "fast_args.hpp"
#include "kube_exec.hpp"

namespace devicelogin::cli::helpers {

// What a helper gives its caller.
struct Outcome {
  enum class Kind {
    kAnswer,       // `out` on stdout, exit 0
    kNotMine,      // a request for something this helper does not serve: `out` (the protocol's own
                   // answer for that, possibly empty) on stdout, exit `exit_code`
    kFallThrough,  // the token source cannot serve it here (fast path only): run the full CLI
    kError,        // `error` as one line on stderr (and `out`, the protocol's message, on stdout)
  };
  Kind kind = Kind::kAnswer;
  Secret out;
  int exit_code = 0;  // kNotMine's; kError's comes from the error's code
  Error error{};

  [[nodiscard]] static Outcome answer(Secret out) { return make(Kind::kAnswer, std::move(out), 0, {}); }
  [[nodiscard]] static Outcome not_mine(Secret out, int exit_code) { return make(Kind::kNotMine, std::move(out), exit_code, {}); }
  [[nodiscard]] static Outcome fall_through() { return make(Kind::kFallThrough, Secret(), 0, {}); }
  [[nodiscard]] static Outcome failure(Error error, Secret out = Secret()) {
    return make(Kind::kError, std::move(out), 0, std::move(error));
  }

 private:
  static Outcome make(Kind kind, Secret out, int exit_code, Error error) {
    Outcome outcome;
    outcome.kind = kind;
    outcome.out = std::move(out);
    outcome.exit_code = exit_code;
    outcome.error = std::move(error);
    return outcome;
  }
};

// Why a token source gave nothing.
struct SourceProblem {
  bool fall_through = false;  // LocalTokenSource: the full CLI must answer (refresh, explain)
  Error error{};              // otherwise, the error to report
};
template <class T>
using SourceResult = std::expected<T, SourceProblem>;

// Where the helpers get tokens. `profile` empty: the default profile.
class TokenSource {
 public:
  TokenSource() = default;
  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;
  virtual ~TokenSource() = default;
  // A token that stays valid for `min_ttl` (>= 0) more seconds, with its type and expiry.
  [[nodiscard]] virtual SourceResult<AccessToken> access_token(const std::string& profile, long long min_ttl) = 0;
  // When `rejected` is still the stored token, refreshes now (a helper's client saw it refused).
  [[nodiscard]] virtual SourceResult<void> refresh_if_current(const std::string& profile, const Secret& rejected) = 0;
  // Refreshes when a set is stored; false when nothing is stored.
  [[nodiscard]] virtual SourceResult<bool> refresh_if_stored(const std::string& profile) = 0;
  // Who receives the tokens, as the audit trail names it (store/audit.hpp): "token", "git" and
  // the host, "docker" and the registry, "kubectl" and the server, "exec" and the command's name.
  // Set by each helper before it asks for a token.
  void set_audit_consumer(std::string consumer, std::string detail) {
    audit_consumer_ = std::move(consumer);
    audit_detail_ = std::move(detail);
  }

 protected:
  std::string audit_consumer_;
  std::string audit_detail_;
};

// A helper's standard input, read only when the helper asks for it: to its end, or up to one
// byte past `limit` (never more is held: the helper then reports too much input), or, with
// `stop_after_blank_line`, up to the blank line that ends git's attributes. Held in wiping storage.
class Input {
 public:
  Input() = default;
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  virtual ~Input() = default;
  // The input; a second call returns what the first read.
  [[nodiscard]] virtual std::string_view read(std::size_t limit, bool stop_after_blank_line) = 0;
};

// Reads `fd` as Input::read describes into `into` (appending). A read error ends the input there.
void read_bounded(int fd, std::size_t limit, bool stop_after_blank_line, WipingString& into);

// Standard input, as read_bounded reads it, once.
class StdinInput final : public Input {
 public:
  [[nodiscard]] std::string_view read(std::size_t limit, bool stop_after_blank_line) override;
  // Whether read() was called, and what it took (for the fast path, which gives it back).
  [[nodiscard]] bool consumed() const { return consumed_; }
  [[nodiscard]] std::string_view taken() const { return {data_.data(), data_.size()}; }

 private:
  bool consumed_ = false;
  WipingString data_;
};

// An input given as a whole (tests, and inputs read elsewhere).
class StringInput final : public Input {
 public:
  explicit StringInput(std::string_view text) : text_(text) {}
  [[nodiscard]] std::string_view read(std::size_t /*limit*/, bool /*stop_after_blank_line*/) override { return text_; }

 private:
  std::string_view text_;
};

// Every helper here hands the token to a program that can only send it as a bearer token (in an
// Authorization header it writes itself, or as a password). A DPoP-bound token (RFC 9449) is
// useless there: each request needs a proof signed with the profile's key, which never leaves
// devicelogin. So such a token is refused with this error (kConfig, exit 2) naming what works
// instead: `devicelogin api`, or a login without --dpop. Nullopt for any other token type.
[[nodiscard]] std::optional<Error> bearer_only(const AccessToken& token, std::string_view integration);

// Records in the audit trail that `consumer` refused to hand out a token (event "refusal", outcome
// "refused"): for the refusals the CLI makes itself, outside a Session (the agent's, a helper the
// machine policy does not allow). Plain text only: `reason` never contains a secret.
void audit_refusal(const std::string& profile, const std::string& consumer, const std::string& detail,
                   const std::string& reason);

// ---- token: `token [--profile P] [--min-ttl S] [--header]`
struct TokenArgs {
  std::string profile;  // empty: the default profile
  long long min_ttl = 60;
  bool header = false;  // `Authorization: <scheme> <token>`, for `curl -H @-`
  bool verbose = false;
};
[[nodiscard]] Outcome token(const TokenArgs& args, TokenSource& source);
[[nodiscard]] std::optional<TokenArgs> token_fast_args(int argc, char** argv);

// ---- git-credential: `git-credential [--profile P] --host H [--username U] [--min-ttl S] get|store|erase`
struct GitCredentialArgs {
  std::string profile;  // empty: the default profile
  std::string operation;
  std::string host;  // the origin this helper answers for: "https://H[:port]" or "http://H:port"
  std::string username;
  long long min_ttl = 300;
  bool verbose = false;
};
[[nodiscard]] Outcome git_credential(const GitCredentialArgs& args, Input& input, TokenSource& source);
[[nodiscard]] std::optional<GitCredentialArgs> git_credential_fast_args(int argc, char** argv);

// ---- docker-credential: `docker-credential [--min-ttl S] [-v|--version] get|store|erase|list|version`
struct DockerCredentialArgs {
  std::string operation;
  long long min_ttl = 300;
  bool verbose = false;
  bool version = false;  // -v/--version, as the reference helpers take it
};
[[nodiscard]] Outcome docker_credential(const DockerCredentialArgs& args, Input& input, TokenSource& source);
[[nodiscard]] std::optional<DockerCredentialArgs> docker_credential_fast_args(int argc, char** argv);
// The registry -> profile map setup-docker keeps ($XDG_CONFIG_HOME/devicelogin/docker-registries.json),
// read and written with the private-file rules of the profiles and token files (src/core/fs.hpp):
// a regular 0600 file of this user, no symlink, in a 0700 directory no one else can write.
[[nodiscard]] Result<std::string> docker_registry_map_path();
[[nodiscard]] Result<DockerRegistryMap> load_docker_registry_map();
[[nodiscard]] Result<void> save_docker_registry_map(const DockerRegistryMap& registries);

// ---- kubectl-credential: `kubectl-credential [--profile P] [--min-ttl S] --server URL
// [--certificate-authority-data B64] [--tls-server-name N] [--insecure-skip-tls-verify]`, with
// KUBERNETES_EXEC_INFO from the environment.
struct KubectlCredentialArgs {
  std::string profile;  // empty: the default profile
  long long min_ttl = 60;
  bool verbose = false;
  // The cluster setup-kubectl recorded (the token goes there only); server empty: none recorded.
  KubeCluster recorded;
};
[[nodiscard]] Outcome kubectl_credential(const KubectlCredentialArgs& args, const char* exec_info, TokenSource& source);
[[nodiscard]] std::optional<KubectlCredentialArgs> kubectl_credential_fast_args(int argc, char** argv);

// ---- the token sources
// The local stores (file, kernel keyring) read directly: a token only when the stored one is fresh
// and bound to its profile; everything else falls through. Links core + store, no network.
// Its hand-out is recorded in the audit trail by record_handout(), once the helper has answered
// (a helper that then refuses the token, or falls through, hands out nothing here).
class LocalTokenSource final : public TokenSource {
 public:
  [[nodiscard]] SourceResult<AccessToken> access_token(const std::string& profile, long long min_ttl) override;
  [[nodiscard]] SourceResult<void> refresh_if_current(const std::string& profile, const Secret& rejected) override;
  [[nodiscard]] SourceResult<bool> refresh_if_stored(const std::string& profile) override;
  // Records the last token access_token() gave as handed out (nothing when it gave none).
  void record_handout();

 private:
  std::string handed_profile_;
  std::string handed_token_id_;
};

}  // namespace devicelogin::cli::helpers
