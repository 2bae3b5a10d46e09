// `devicelogin token`: the one command whose job is to print the token.
#include "helpers.hpp"

namespace devicelogin::cli::helpers {

namespace {
Error usage(std::string message) { return Error{ErrorCode::kUsage, std::move(message), "", 0}; }
}  // namespace

Outcome token(const TokenArgs& args, TokenSource& source) {
  if (args.min_ttl < 0) return Outcome::failure(usage("--min-ttl must be 0 or more seconds"));
  auto token = source.access_token(args.profile, args.min_ttl);
  if (!token) {
    if (token.error().fall_through) return Outcome::fall_through();
    return Outcome::failure(token.error().error);
  }
  // Nothing else on stdout: the token, or with --header the header line of its type's scheme.
  Outcome outcome;
  if (args.header) {
    outcome.out.append("Authorization: ");
    outcome.out.append(token->authorization().reveal());
  } else {
    outcome.out.append(token->reveal());
  }
  outcome.out.append("\n");
  return outcome;
}

std::optional<TokenArgs> token_fast_args(int argc, char** argv) {
  FastArgs args(argc, argv);
  if (!args.parse({"--profile", "--min-ttl"}, {"--header"}) || !args.positional().empty()) return std::nullopt;
  TokenArgs parsed;
  const auto min_ttl = args.seconds("--min-ttl", parsed.min_ttl);
  if (!min_ttl) return std::nullopt;
  parsed.min_ttl = *min_ttl;
  parsed.profile = std::string(args.value("--profile").value_or(""));
  parsed.header = args.has("--header");
  return parsed;
}

}  // namespace devicelogin::cli::helpers
