#pragma once
// Shared by the fuzz targets: turns the fuzzer's bytes into the inputs the parsers see.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "devicelogin/http_client.hpp"

namespace devicelogin::fuzz {

// Reads the fuzzer's bytes front to back; past the end every read yields zero/empty.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Up to the next NUL (consumed) or the end.
  std::string_view part() {
    auto end = rest_.find('\0');
    auto taken = rest_.substr(0, end);
    rest_.remove_prefix(end == std::string_view::npos ? rest_.size() : end + 1);
    return taken;
  }
  std::string_view rest() {
    auto taken = rest_;
    rest_ = {};
    return taken;
  }

 private:
  std::string_view rest_;
};

// Byte 0 picks the status, byte 1 the content type, the rest (or, with `whole` false, the next
// part) is the body: so one corpus file is one server answer, and the fuzzer explores statuses and
// media types as well as bodies.
inline HttpResponse response_from(Input& in, bool whole = true) {
  static constexpr int kStatuses[] = {200, 400, 401, 403, 404, 429, 500, 503, 302, 201, 204, 418};
  static constexpr std::string_view kTypes[] = {
      "application/json", "application/x-www-form-urlencoded", "text/plain", "application/json; charset=utf-8",
      "", "text/html", "application/jwk-set+json", "APPLICATION/JSON"};
  HttpResponse response;
  response.status = kStatuses[in.byte() % std::size(kStatuses)];
  auto type = kTypes[in.byte() % std::size(kTypes)];
  if (!type.empty()) response.headers.emplace_back("content-type", std::string(type));
  response.headers.emplace_back("retry-after", "7");
  response.body = Secret(std::string(whole ? in.rest() : in.part()));
  return response;
}

// Stops the fuzzer on a broken invariant: libFuzzer reports it as a crash with the input.
inline void check(bool holds) {
  if (!holds) std::abort();
}

}  // namespace devicelogin::fuzz
