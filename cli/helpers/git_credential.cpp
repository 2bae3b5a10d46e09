// git's credential protocol (gitcredentials(7)): `devicelogin git-credential get|store|erase`.
#include "git_protocol.hpp"
#include "helpers.hpp"
#include "shown.hpp"

namespace devicelogin::cli::helpers {

namespace {
Outcome usage(std::string message) { return Outcome::failure(Error{ErrorCode::kUsage, std::move(message), "", 0}); }
Outcome failed(const SourceProblem& problem) {
  if (problem.fall_through) return Outcome::fall_through();
  return Outcome::failure(problem.error);
}
}  // namespace

Outcome git_credential(const GitCredentialArgs& args, Input& input, TokenSource& source) {
  if (args.operation != "get" && args.operation != "store" && args.operation != "erase") {
    return usage("unknown operation \"" + shown_word(args.operation) + "\" (expected get, store or erase)");
  }
  if (args.min_ttl < 0) return usage("--min-ttl must be 0 or more seconds");
  const auto origin = git_origin_for(args.host);
  if (!origin) return usage("--host " + origin.error() + ", got \"" + shown_word(args.host) + "\"");
  std::string problem;
  auto attributes = parse_git_attributes(input.read(kMaxGitCredentialInput, true), problem);
  if (!attributes) return usage(problem);
  // `store` is git's word that a credential worked: nothing to keep, the profile's store has it.
  if (args.operation == "store") return {};
  const std::string& protocol = attributes->values["protocol"];
  const std::string& host = attributes->values["host"];
  if (protocol.empty() || host.empty()) return usage("the input names no protocol and host");
  // Not a host this helper is configured for: answer nothing, so that git asks elsewhere.
  if (protocol + "://" + host != *origin) return Outcome::not_mine(Secret(), 0);

  if (args.operation == "erase") {
    // git saw this password rejected (and sends the erase to every helper it runs for the URL, so
    // any other helper that stored the token forgets it too; logout asks git for that itself).
    // When it is still the stored token, refresh now, so that the next `get` returns another one;
    // the login is kept. A token already replaced is left alone.
    if (attributes->password.empty()) return {};
    if (auto refreshed = source.refresh_if_current(args.profile, attributes->password); !refreshed) {
      return failed(refreshed.error());
    }
    return {};
  }
  source.set_audit_consumer("git", args.host);
  auto token = source.access_token(args.profile, args.min_ttl);
  if (!token) return failed(token.error());
  if (auto refused = bearer_only(*token, "git")) return Outcome::failure(std::move(*refused));
  return Outcome::answer(format_git_answer(args.username, *attributes, token->reveal(), token->expires_at));
}

std::optional<GitCredentialArgs> git_credential_fast_args(int argc, char** argv) {
  FastArgs args(argc, argv);
  if (!args.parse({"--profile", "--host", "--username", "--min-ttl"}, {}) || args.positional().size() != 1) {
    return std::nullopt;
  }
  GitCredentialArgs parsed;
  const auto min_ttl = args.seconds("--min-ttl", parsed.min_ttl);
  const auto host = args.value("--host");
  if (!min_ttl || !host) return std::nullopt;
  parsed.min_ttl = *min_ttl;
  parsed.host = std::string(*host);
  parsed.operation = std::string(args.positional()[0]);
  parsed.profile = std::string(args.value("--profile").value_or(""));
  parsed.username = std::string(args.value("--username").value_or(""));
  return parsed;
}

}  // namespace devicelogin::cli::helpers
