// The dev server's authorization-request parsers: loopback redirect URIs (RFC 8252 §7.3), their
// matching against a registered URI, PKCE verifiers and challenges (RFC 7636), and the redirect
// back. Two NUL-separated parts: the requested URI and a registered one; the rest is a verifier.
#include "authorization.hpp"  // devserver/authorization.hpp
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  std::string_view requested = in.part();
  std::string registered(in.part());
  std::string_view verifier = in.rest();
  auto parsed = devserver::parse_loopback_redirect(requested);
  if (parsed) {
    // Only the two loopback literals, over http, and nothing a browser could read as another host.
    fuzz::check(parsed->origin.starts_with("http://127.0.0.1") || parsed->origin.starts_with("http://[::1]"));
    fuzz::check(parsed->without_port.find('#') == std::string::npos);
    fuzz::check(parsed->without_port.find('@') == std::string::npos ||
                parsed->without_port.find('/', 7) < parsed->without_port.find('@'));
    // A URI always matches itself, and the redirect keeps it as its prefix.
    fuzz::check(devserver::redirect_uri_registered(requested, {std::string(requested)}));
    fuzz::check(devserver::redirect_with(requested, {{"code", std::string(verifier)}}).starts_with(requested));
  }
  bool matches = devserver::redirect_uri_registered(requested, {registered});
  fuzz::check(!matches || parsed);
  if (devserver::valid_code_verifier(verifier)) {
    fuzz::check(devserver::pkce_s256_verifies(verifier, devserver::s256_challenge(verifier)));
  } else {
    fuzz::check(!devserver::pkce_s256_verifies(verifier, devserver::s256_challenge(verifier)));
  }
  fuzz::check(devserver::valid_s256_challenge(devserver::s256_challenge(verifier)));
  return 0;
}
