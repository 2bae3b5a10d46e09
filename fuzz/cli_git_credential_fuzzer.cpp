// git's credential input (gitcredentials(7)) as the helper reads it, in the module and on the
// executable's fast path: parsing never fails hard; what it returns is what the lines said; the
// origin a --host names is a fixed point; the answer to `get` reads back as the same attributes.
#include <string>

#include "fuzz_input.hpp"
#include "git_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  using namespace devicelogin::cli;
  fuzz::Input in(data, size);
  const std::string host(in.part());
  const std::string_view input = in.rest();

  if (auto origin = git_origin_for(host)) {
    fuzz::check(origin->starts_with("https://") || origin->starts_with("http://"));
    fuzz::check(origin->find_first_of("@?# \t\r\n") == std::string::npos);
    fuzz::check(git_origin_for(*origin) == origin);
  }

  std::string problem;
  auto parsed = parse_git_attributes(input, problem);
  fuzz::check(parsed.has_value() == problem.empty());
  if (!parsed) return 0;
  fuzz::check(input.size() <= kMaxGitCredentialInput);
  for (const auto& [key, value] : parsed->values) {
    fuzz::check(!key.empty() && key != "password");
    fuzz::check(key.find_first_of("=\n") == std::string::npos && value.find('\n') == std::string::npos);
    fuzz::check(key.find('\0') == std::string::npos && value.find('\0') == std::string::npos);
  }
  // The answer git reads: its lines parse back to the username and the token given.
  const std::string token = "tok" + std::to_string(input.size());
  const Secret answer = format_git_answer("", *parsed, token, 1700000000);
  fuzz::check(git_attributes_complete(std::string(answer.reveal()) + "\n"));
  std::string again_problem;
  auto again = parse_git_attributes(answer.reveal(), again_problem);
  fuzz::check(again.has_value());
  fuzz::check(again->password.reveal() == token);
  fuzz::check(again->values.at("password_expiry_utc") == "1700000000");
  return 0;
}
