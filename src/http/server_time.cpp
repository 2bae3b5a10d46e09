#include "http/server_time.hpp"

#include <array>
#include <cstdlib>

#include "http/url_policy.hpp"

namespace devicelogin::http {
namespace {

constexpr std::array<std::string_view, 7> kShortDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Reads the fields of one HTTP-date form left to right; any mismatch makes ok false.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}
  bool ok = true;

  void literal(std::string_view expected) {
    if (ok && text_.starts_with(expected)) {
      text_.remove_prefix(expected.size());
    } else {
      ok = false;
    }
  }
  // Exactly `count` digits.
  int digits(std::size_t count) {
    int value = 0;
    if (!ok || text_.size() < count) {
      ok = false;
      return 0;
    }
    for (std::size_t i = 0; i < count; ++i) {
      char c = text_[i];
      if (c < '0' || c > '9') {
        ok = false;
        return 0;
      }
      value = value * 10 + (c - '0');
    }
    text_.remove_prefix(count);
    return value;
  }
  // asctime's day: two digits, or a space and one digit.
  int padded_day() {
    if (ok && text_.starts_with(' ')) {
      text_.remove_prefix(1);
      return digits(1);
    }
    return digits(2);
  }
  template <std::size_t N>
  int one_of(const std::array<std::string_view, N>& names) {
    if (ok) {
      for (std::size_t i = 0; i < N; ++i) {
        // Case-sensitive (RFC 9110 §5.6.7). Longer names are listed whole, so "Sun" cannot match
        // the start of "Sunday" in a form that wants the long name.
        if (text_.starts_with(names[i])) {
          text_.remove_prefix(names[i].size());
          return static_cast<int>(i);
        }
      }
    }
    ok = false;
    return 0;
  }
  [[nodiscard]] bool at_end() const { return text_.empty(); }

 private:
  std::string_view text_;
};

struct Fields {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

void read_time(Reader& in, Fields& f) {
  f.hour = in.digits(2);
  in.literal(":");
  f.minute = in.digits(2);
  in.literal(":");
  f.second = in.digits(2);
}

// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
long long days_from_civil(long long year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const long long era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<long long>(day_of_era) - 719468;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

std::optional<long long> to_unix_seconds(const Fields& f) {
  if (f.month < 1 || f.month > 12 || f.day < 1 || f.day > days_in_month(f.year, f.month)) return std::nullopt;
  // A leap second (60) is allowed by the grammar; it counts as the next second.
  if (f.hour > 23 || f.minute > 59 || f.second > 60) return std::nullopt;
  return days_from_civil(f.year, static_cast<unsigned>(f.month), static_cast<unsigned>(f.day)) * 86400 +
         f.hour * 3600LL + f.minute * 60LL + f.second;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<long long> parse_http_date(std::string_view text) {
  text = trim(text);
  Fields f;
  {
    // IMF-fixdate: day-name "," SP date1 SP time-of-day SP GMT, date1 = day SP month SP year.
    Reader in(text);
    in.one_of(kShortDays);
    in.literal(", ");
    f.day = in.digits(2);
    in.literal(" ");
    f.month = in.one_of(kMonths) + 1;
    in.literal(" ");
    f.year = in.digits(4);
    in.literal(" ");
    read_time(in, f);
    in.literal(" GMT");
    if (in.ok && in.at_end()) return to_unix_seconds(f);
  }
  {
    // RFC 850: day-name-l "," SP date2 SP time-of-day SP GMT, date2 = day "-" month "-" 2DIGIT.
    Reader in(text);
    in.one_of(kLongDays);
    in.literal(", ");
    f.day = in.digits(2);
    in.literal("-");
    f.month = in.one_of(kMonths) + 1;
    in.literal("-");
    const int two_digit_year = in.digits(2);
    in.literal(" ");
    read_time(in, f);
    in.literal(" GMT");
    // RFC 9110 §5.6.7 reads a year more than 50 years ahead as the past century's; relative to
    // any date this code will meet, that is 19xx for 70..99. A wrong century is far beyond the
    // plausible offset and gets discarded anyway.
    f.year = two_digit_year >= 70 ? 1900 + two_digit_year : 2000 + two_digit_year;
    if (in.ok && in.at_end()) return to_unix_seconds(f);
  }
  {
    // asctime: day-name SP month SP ( 2DIGIT / ( SP DIGIT )) SP time-of-day SP year.
    Reader in(text);
    in.one_of(kShortDays);
    in.literal(" ");
    f.month = in.one_of(kMonths) + 1;
    in.literal(" ");
    f.day = in.padded_day();
    in.literal(" ");
    read_time(in, f);
    in.literal(" ");
    f.year = in.digits(4);
    if (in.ok && in.at_end()) return to_unix_seconds(f);
  }
  return std::nullopt;
}

std::optional<long long> clock_offset_from(std::string_view url, const HttpResponse& response, SystemTime sent,
                                           SystemTime received) {
  // Only an answer that cannot have been altered on the way: TLS (our client always verifies
  // it) or a loopback connection. A plain-http answer from elsewhere is never trusted.
  auto checked = parse_checked_url(url, "the URL");
  if (!checked || (checked->scheme != "https" && !(checked->scheme == "http" && checked->loopback))) {
    return std::nullopt;
  }
  if (received < sent) return std::nullopt;
  auto date = parse_http_date(response.header("date"));
  if (!date) return std::nullopt;
  const SystemTime midpoint = sent + (received - sent) / 2;
  // Both sides whole seconds, the server's truncated and the local one floored likewise, so an
  // offset of whole seconds comes out exact.
  const long long local = std::chrono::floor<Seconds>(midpoint).time_since_epoch().count();
  const long long offset = *date - local;
  if (std::llabs(offset) > kMaxPlausibleClockOffsetSeconds) return std::nullopt;
  return offset;
}

Result<HttpResponse> ServerClockObserver::send(const HttpRequest& request) {
  const SystemTime sent = clock_.now();
  auto response = inner_.send(request);
  const SystemTime received = clock_.now();
  if (response) {
    if (auto offset = clock_offset_from(request.url, *response, sent, received)) {
      offset_ = offset;
      learned_ = true;
    }
  }
  return response;
}

}  // namespace devicelogin::http
