// The `Date` header of every https or loopback answer (RFC 9110 §5.6.7 HTTP-date: IMF-fixdate and
// the obsolete RFC 850 and asctime forms): parsing never fails hard, a parsed date formats back to
// an IMF-fixdate that parses to the same second, and the clock offset learned from any Date stays
// within the plausible bound.
#include <cstdio>
#include <ctime>
#include <string>

#include "fuzz_input.hpp"
#include "http/server_time.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  fuzz::Input in(data, size);
  const std::string_view text = in.rest();
  if (auto seconds = http::parse_http_date(text)) {
    std::time_t t = static_cast<std::time_t>(*seconds);
    std::tm tm{};
    if (::gmtime_r(&t, &tm) != nullptr && tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999) {
      // IMF-fixdate's year is 4DIGIT (RFC 9110 §5.6.7); strftime's %Y does not pad years before
      // 1000 (found by the fuzzer: "Mon, 29 Feb 0228 ..." formatted back as "... Feb 228 ...").
      char day_month[32];
      char clock[16];
      if (std::strftime(day_month, sizeof day_month, "%a, %d %b", &tm) > 0 &&
          std::strftime(clock, sizeof clock, "%H:%M:%S", &tm) > 0) {
        char formatted[64];
        std::snprintf(formatted, sizeof formatted, "%s %04d %s GMT", day_month, tm.tm_year + 1900, clock);
        fuzz::check(http::parse_http_date(formatted) == seconds);
      }
    }
  }
  HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("date", std::string(text));
  const SystemTime now = std::chrono::system_clock::now();
  if (auto offset = http::clock_offset_from("https://id.example.com/token", response, now, now)) {
    fuzz::check(*offset >= -http::kMaxPlausibleClockOffsetSeconds && *offset <= http::kMaxPlausibleClockOffsetSeconds);
  }
  // A plain-http answer from elsewhere is never trusted, whatever it says.
  fuzz::check(!http::clock_offset_from("http://id.example.com/token", response, now, now).has_value());
  return 0;
}
