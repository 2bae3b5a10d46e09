// The machine policy file (/etc/devicelogin/policy.json): every command parses it before anything.
#include <cmath>

#include "devicelogin/policy.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  const std::string text(in.rest());
  auto policy = parse_policy(text, "/etc/devicelogin/policy.json");
  if (!policy) {
    // One line that names the file.
    const std::string& message = policy.error().message;
    fuzz::check(policy.error().code == ErrorCode::kConfig);
    fuzz::check(message.find("/etc/devicelogin/policy.json") != std::string::npos);
    fuzz::check(message.find('\n') == std::string::npos);
    return 0;
  }
  fuzz::check(text.size() <= kMaxPolicyBytes);
  // What is accepted is usable as it is: limits are positive finite hours, names are known.
  for (const auto& hours : {policy->max_session_hours, policy->idle_hours}) {
    if (hours) fuzz::check(std::isfinite(*hours) && *hours > 0);
  }
  if (policy->issuers) {
    for (const PolicyIssuer& issuer : *policy->issuers) fuzz::check(!issuer.issuer.empty());
  }
  if (policy->helpers) {
    for (const std::string& helper : *policy->helpers) (void)check_policy_helper(*policy, helper);
  }
  if (policy->api_origins) {
    for (const std::string& pattern : *policy->api_origins) (void)policy_origin_matches(pattern, "https://api.example.com");
  }
  return 0;
}
