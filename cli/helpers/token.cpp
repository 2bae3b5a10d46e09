// `devicelogin token`: the one command whose job is to print the token.
#include "helpers.hpp"

namespace devicelogin::cli::helpers {

namespace {
Error usage(std::string message) { return Error{ErrorCode::kUsage, std::move(message), "", 0}; }
}  // namespace

std::optional<Error> bearer_only(const AccessToken& token, std::string_view integration) {
  // Token types are case-insensitive (RFC 6749 §7.1).
  const std::string& type = token.token_type;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  if (type.size() != 4 || lower(type[0]) != 'd' || lower(type[1]) != 'p' || lower(type[2]) != 'o' || lower(type[3]) != 'p') {
    return std::nullopt;
  }
  return Error{ErrorCode::kConfig,
               "the profile's token is bound to its DPoP key (RFC 9449), and " + std::string(integration) +
                   " can only pass the token on as it is, useless without a proof signed by that key; use "
                   "devicelogin api (it signs each request), or sign in without --dpop",
               "", 0};
}

Outcome token(const TokenArgs& args, TokenSource& source) {
  if (args.min_ttl < 0) return Outcome::failure(usage("--min-ttl must be 0 or more seconds"));
  source.set_audit_consumer("token", "");
  auto token = source.access_token(args.profile, args.min_ttl);
  if (!token) {
    if (token.error().fall_through) return Outcome::fall_through();
    return Outcome::failure(token.error().error);
  }
  if (auto refused = bearer_only(*token, args.header ? "token --header" : "token")) return Outcome::failure(std::move(*refused));
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
