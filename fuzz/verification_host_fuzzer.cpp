// Verification URIs: the host a browser reaches (url_host) and the preset check
// (check_verification_host). What is shown is plain lower-case ASCII that reads back as itself,
// and a URI a preset accepts is on the host it names.
#include "devicelogin/sanitize.hpp"
#include "fuzz_input.hpp"
#include "oauth/providers.hpp"
#include "oauth/verification.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  static constexpr std::string_view kProviders[] = {"", "github", "google", "microsoft", "workos", "okta"};
  fuzz::Input in(data, size);
  Profile profile;
  profile.provider = std::string(kProviders[in.byte() % std::size(kProviders)]);
  profile.issuer = "https://id.example.com";
  profile.endpoints.device_authorization = "https://id.example.com/device";
  // As the login sees them: server text is sanitized first.
  const std::string uri = sanitize_text(in.part());
  const std::string complete = sanitize_text(in.rest());
  auto host = oauth::url_host(uri);
  if (host) {
    const std::string& ascii = host->ascii;
    fuzz::check(!ascii.empty());
    for (char c : ascii) {
      fuzz::check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '[' ||
                  c == ']' || c == ':');
    }
    // The ASCII form is its own host: what the user reads is what a browser reaches.
    auto again = oauth::url_host("https://" + ascii + "/");
    fuzz::check(again && again->ascii == ascii && !again->internationalized);
  }
  auto checked = oauth::check_verification_host(profile, uri, complete);
  if (checked) {
    fuzz::check(host && checked->host == host->ascii);
    fuzz::check(checked->warning.find('\n') == std::string::npos);
  } else {
    fuzz::check(!checked.error().message.empty() && checked.error().code == ErrorCode::kServer);
  }
  return 0;
}
