// The dev server's DPoP proof checks (RFC 9449 §4.3) and its htu normalization: a DPoP header
// value from the network. Byte 0 picks the method and whether an access token (the next part) is
// presented; the next part is a URL for normalize_htu; the rest is the header value.
#include <chrono>
#include <string>

#include "dpop.hpp"  // devserver/dpop.hpp
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  const std::uint8_t choice = in.byte();
  std::string access_token(in.part());
  auto normalized = devserver::normalize_htu(in.part());
  if (normalized) fuzz::check(normalized->starts_with("http://") || normalized->starts_with("https://"));
  std::string_view proof = in.rest();

  devserver::DpopSettings settings;
  settings.require_nonce = (choice & 4) != 0;
  settings.max_replay_entries = 4;
  static devserver::DpopValidator validator(settings);  // one cache across inputs, as in a server
  devserver::DpopRequest request;
  request.proofs.push_back(proof);
  if ((choice & 8) != 0) request.proofs.push_back(proof);
  request.method = (choice & 1) != 0 ? "GET" : "POST";
  request.url = "http://127.0.0.1:8080/token";
  request.access_token = (choice & 2) != 0 ? &access_token : nullptr;
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  auto result = validator.check(request, now);
  if (result) {
    fuzz::check(request.proofs.size() == 1);
    fuzz::check(result->size() == 43);  // base64url of a SHA-256
  } else {
    fuzz::check(!result.error().description.empty());
  }
  return 0;
}
