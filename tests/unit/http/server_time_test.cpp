// HTTP-date parsing (RFC 9110 §5.6.7), the clock offset one answer gives, and the observer that
// learns it from every answer, with the injected clock.
#include "http/server_time.hpp"

#include <gtest/gtest.h>

#include "fakes.hpp"

namespace devicelogin {
namespace {

using testing::FakeClock;
using testing::FakeHttpClient;

constexpr long long kSunday1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example)
constexpr long long kNow = 1'800'000'000;     // Fri, 15 Jan 2027 08:00:00 GMT
constexpr const char* kNowDate = "Fri, 15 Jan 2027 08:00:00 GMT";

TEST(ParseHttpDate, AcceptsTheThreeFormsOfRfc9110) {
  EXPECT_EQ(http::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kSunday1994);
  EXPECT_EQ(http::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kSunday1994);
  EXPECT_EQ(http::parse_http_date("Sun Nov  6 08:49:37 1994"), kSunday1994);
  EXPECT_EQ(http::parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT\t"), kSunday1994);
}

TEST(ParseHttpDate, ComputesCalendarDatesExactly) {
  EXPECT_EQ(http::parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(http::parse_http_date(kNowDate), kNow);
  EXPECT_EQ(http::parse_http_date("Tue, 29 Feb 2000 23:59:59 GMT"), 951868799);
  EXPECT_EQ(http::parse_http_date("Tue, 31 Dec 2024 12:00:00 GMT"), 1735646400);
  EXPECT_EQ(http::parse_http_date("Fri, 31 Dec 1999 23:59:59 GMT"), 946684799);
  EXPECT_EQ(http::parse_http_date("Friday, 31-Dec-99 23:59:59 GMT"), 946684799);
  EXPECT_EQ(http::parse_http_date("Tue Dec 31 12:00:00 2024"), 1735646400);
  EXPECT_EQ(http::parse_http_date("Fri Jan 15 08:00:00 2027"), kNow);
}

TEST(ParseHttpDate, RefusesEverythingElse) {
  for (const char* text : {
           "",
           "GMT",
           "1800000000",                          // not a date form
           "Fri, 15 Jan 2027 08:00:00 UTC",       // another zone name
           "Fri, 15 Jan 2027 08:00:00 +0000",     // RFC 5322 zone, not HTTP
           "Fri, 15 Jan 2027 08:00:00",           // no zone
           "Fri, 15 Jan 2027 08:00:00 GMT extra", // trailing text
           "fri, 15 jan 2027 08:00:00 GMT",       // case-sensitive
           "Fri, 15 January 2027 08:00:00 GMT",
           "Fri, 5 Jan 2027 08:00:00 GMT",        // day must be two digits
           "Fri, 32 Jan 2027 08:00:00 GMT",
           "Fri, 29 Feb 2027 08:00:00 GMT",       // not a leap year
           "Fri, 15 Jan 2027 24:00:00 GMT",
           "Fri, 15 Jan 2027 08:60:00 GMT",
           "Fri, 15 Jan 2027 08:00:61 GMT",
           "Fri, 15 Jan 27 08:00:00 GMT",
           "Fri,15 Jan 2027 08:00:00 GMT",
           "Friday, 15-Jan-2027 08:00:00 GMT",    // RFC 850 has two year digits
           "Fri, 15-Jan-27 08:00:00 GMT",         // RFC 850 wants the long day name
           "Fri Jan 15 08:00:00 27",
           "Fri Jan 15 08:00:00 2027 GMT",
           "Fri Jan  15 08:00:00 2027",
       }) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(http::parse_http_date(text).has_value());
  }
}

HttpResponse dated(std::string date) {
  HttpResponse response;
  response.status = 200;
  if (!date.empty()) response.headers = {{"date", std::move(date)}};
  return response;
}

TEST(ClockOffsetFrom, IsServerMinusLocalAtTheMidpointOfTheRoundTrip) {
  const SystemTime sent = from_unix(kNow - 600);
  // Answered instantly: the client is 10 min behind.
  EXPECT_EQ(http::clock_offset_from("https://id.example.com/token", dated(kNowDate), sent, sent), 600);
  // Ahead by 70 min.
  EXPECT_EQ(http::clock_offset_from("https://id.example.com/token", dated(kNowDate), from_unix(kNow + 4200),
                              from_unix(kNow + 4200)),
            -4200);
  // A 4 s round trip sent at local kNow - 2: the server stamped kNow; the midpoint is kNow, not the
  // receipt time (kNow + 2), which would make a correct clock look 2 s ahead.
  EXPECT_EQ(http::clock_offset_from("https://id.example.com/token", dated(kNowDate), from_unix(kNow - 2), from_unix(kNow + 2)), 0);
  // Sub-second local times: the whole-second part is compared with Date's whole seconds.
  const SystemTime fraction = from_unix(kNow - 180) + std::chrono::milliseconds(700);
  EXPECT_EQ(http::clock_offset_from("https://id.example.com/token", dated(kNowDate), fraction, fraction), 180);
}

TEST(ClockOffsetFrom, TrustsOnlyTlsAndLoopbackAnswers) {
  const SystemTime at = from_unix(kNow - 600);
  EXPECT_EQ(http::clock_offset_from("http://127.0.0.1:8080/token", dated(kNowDate), at, at), 600);
  EXPECT_EQ(http::clock_offset_from("http://localhost/token", dated(kNowDate), at, at), 600);
  EXPECT_EQ(http::clock_offset_from("http://[::1]:9/token", dated(kNowDate), at, at), 600);
  EXPECT_FALSE(http::clock_offset_from("http://id.example.com/token", dated(kNowDate), at, at).has_value());
  EXPECT_FALSE(http::clock_offset_from("http://10.0.0.1/token", dated(kNowDate), at, at).has_value());
  EXPECT_FALSE(http::clock_offset_from("ftp://id.example.com/token", dated(kNowDate), at, at).has_value());
  EXPECT_FALSE(http::clock_offset_from("not a url", dated(kNowDate), at, at).has_value());
}

TEST(ClockOffsetFrom, FallsBackOnMissingBadOrImplausibleDates) {
  const SystemTime at = from_unix(kNow);
  const char* url = "https://id.example.com/token";
  EXPECT_FALSE(http::clock_offset_from(url, dated(""), at, at).has_value());
  EXPECT_FALSE(http::clock_offset_from(url, dated("yesterday"), at, at).has_value());
  // More than a day off is a broken header, not a clock.
  EXPECT_FALSE(http::clock_offset_from(url, dated(kNowDate), from_unix(kNow - 86401), from_unix(kNow - 86401)).has_value());
  EXPECT_FALSE(http::clock_offset_from(url, dated(kNowDate), from_unix(kNow + 86401), from_unix(kNow + 86401)).has_value());
  EXPECT_EQ(http::clock_offset_from(url, dated(kNowDate), from_unix(kNow - 86400), from_unix(kNow - 86400)), 86400);
  // The local clock stepped back during the request: no midpoint to speak of.
  EXPECT_FALSE(http::clock_offset_from(url, dated(kNowDate), from_unix(kNow + 1), from_unix(kNow)).has_value());
}

TEST(ServerClockObserver, LearnsFromEachUsableAnswerAndKeepsTheLastOne) {
  FakeClock clock(kNow - 600);
  FakeHttpClient inner(&clock);
  inner.reply(200, "{}", {{"date", kNowDate}});
  inner.reply(200, "{}", {});                      // no Date: the last offset stands
  inner.reply(200, "{}", {{"date", "garbage"}});  // unparsable: likewise
  inner.reply(200, "{}", {{"date", "Fri, 15 Jan 2027 08:03:00 GMT"}});
  http::ServerClockObserver observer(inner, clock);
  EXPECT_FALSE(observer.offset().has_value());
  EXPECT_EQ(observer.server_now(), kNow - 600);  // nothing known: the local clock, as before
  HttpRequest request;
  request.url = "https://id.example.com/token";
  ASSERT_TRUE(observer.send(request).has_value());
  EXPECT_EQ(observer.offset(), 600);
  EXPECT_EQ(observer.server_now(), kNow);
  ASSERT_TRUE(observer.send(request).has_value());
  ASSERT_TRUE(observer.send(request).has_value());
  EXPECT_EQ(observer.offset(), 600);
  ASSERT_TRUE(observer.send(request).has_value());
  EXPECT_EQ(observer.offset(), 780);
  // An offset learned here is not replaced by one assumed from elsewhere.
  observer.assume_offset(5);
  EXPECT_EQ(observer.offset(), 780);
  EXPECT_EQ(inner.requests.size(), 4u);
}

TEST(ServerClockObserver, StartsFromAnAssumedOffsetAndIgnoresPlainHttpElsewhere) {
  FakeClock clock(kNow);
  FakeHttpClient inner(&clock);
  inner.reply(200, "{}", {{"date", "Fri, 15 Jan 2027 09:00:00 GMT"}});
  http::ServerClockObserver observer(inner, clock);
  observer.assume_offset(-120);
  EXPECT_EQ(observer.server_now(), kNow - 120);
  HttpRequest request;
  request.url = "http://id.example.com/token";  // would be refused by the real client anyway
  ASSERT_TRUE(observer.send(request).has_value());
  EXPECT_EQ(observer.offset(), -120);
  EXPECT_FALSE(observer.learned());
}

}  // namespace
}  // namespace devicelogin
