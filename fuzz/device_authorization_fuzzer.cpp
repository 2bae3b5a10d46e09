// RFC 8628 §3.2 device authorization responses (JSON, or form-encoded as GitHub sends them).
#include "fuzz_input.hpp"
#include "oauth/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  auto response = fuzz::response_from(in);
  auto parsed = oauth::parse_device_authorization(response);
  if (parsed) {
    // RFC 8628 §3.2: the fields a client shows or schedules on are present and sane.
    fuzz::check(!parsed->device_code.empty());
    fuzz::check(!parsed->user_code.empty() && !parsed->verification_uri.empty());
    fuzz::check(parsed->expires_in > 0 && parsed->interval >= 0);
  } else {
    fuzz::check(!parsed.error().message.empty());
  }
  return 0;
}
