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
  // Server text reaches the terminal only through sanitize_text: what survives is well-formed
  // UTF-8 without a control (C0, DEL, C1) or an invisible or reordering character, and a second
  // pass finds nothing more to remove.
  const std::string clean = sanitize_text(text);
  for (std::size_t i = 0; i < clean.size(); ++i) {
    const auto c = static_cast<unsigned char>(clean[i]);
    if (c < 0x80) {
      fuzz::check(c >= 0x20 && c != 0x7f);
      continue;
    }
    auto [cp, length] = core::utf8_code_point_at(clean, i);
    fuzz::check(length != 0 && cp > 0x9F);
    fuzz::check(sanitize_text(clean.substr(i, length)) == clean.substr(i, length));
    i += length - 1;
  }
  fuzz::check(sanitize_text(clean) == clean);
  return 0;
}
