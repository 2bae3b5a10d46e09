// Form bodies (what the dev server reads from every request, and GitHub's form answers), percent
// escapes and base64url: decoding never fails hard, and encoding round-trips.
#include "core/encoding.hpp"
#include "devicelogin/sanitize.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  auto text = in.rest();
  auto fields = core::form_decode(text);
  fuzz::check(core::form_decode(core::form_encode(fields)) == fields);
  fuzz::check(core::url_decode(core::url_encode(text)) == text);
  // The decoder is lenient (padding, '+' and '/', non-zero pad bits); what it returns re-encodes
  // and decodes to the same bytes.
  if (auto bytes = core::base64url_decode(text)) fuzz::check(core::base64url_decode(core::base64url_encode(*bytes)) == bytes);
  fuzz::check(*core::base64url_decode(core::base64url_encode(text)) == text);
  // Server text reaches the terminal only through sanitize_text: no control characters survive.
  for (unsigned char c : sanitize_text(text)) fuzz::check(c >= 0x20 && c != 0x7f);
  return 0;
}
