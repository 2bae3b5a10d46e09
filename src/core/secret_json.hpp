#pragma once
// SecretJson: a nlohmann JSON value whose every string lives in wiping storage.
//
// A token response or a stored token set passes through nlohmann's own std::string buffers: the
// lexer's token buffer (reused and regrown for each string it reads), each string value and key,
// and the output string of dump(), which grows by reallocation as it is written. Every one of those
// buffers would be freed with a token still in it. With WipingString as the string type, all of
// them (nlohmann uses its string_t for the lexer buffer, values, keys and dump()'s output) are
// zeroed when released, however the value is copied, moved, grown or destroyed.
//
// Parsing goes through parse_secret_json below, not SecretJson::parse: nlohmann's lexer also
// records every character it reads in a std::vector<char> (`token_string`, for its error
// messages), which no allocator parameter reaches and which is freed unwiped with the token in it
// (found by session_test's memory scan).
//
// Header-only: core itself does not link nlohmann; the modules that include this one (oauth, store)
// do.
#include <algorithm>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "devicelogin/secret.hpp"

namespace devicelogin::core {

using SecretJson = nlohmann::basic_json<std::map, std::vector, WipingString>;

namespace secret_json_detail {

// A strict RFC 8259 reader that builds a SecretJson, holding what it reads only in WipingStrings.
// It accepts what nlohmann's parser accepts (no comments, valid UTF-8 strings, finite numbers,
// non-negative integers as unsigned, as nlohmann stores them).
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  // Iterative (an explicit stack of open arrays and objects), so that hostile nesting
  // (`[[[[...]]]]` 100k deep) cannot overflow the stack.
  std::optional<SecretJson> document() {
    struct Open {
      SecretJson container;
      WipingString name;  // of the member whose value is being read, in an object
    };
    std::vector<Open> open;
    SecretJson done;  // the last complete value
    skip_space();
    while (true) {
      // A value starts here.
      if (at_ >= text_.size()) return std::nullopt;
      const char c = text_[at_];
      if (c == '{' || c == '[') {
        ++at_;
        open.push_back(Open{c == '{' ? SecretJson::object() : SecretJson::array(), {}});
        skip_space();
        if (at_ < text_.size() && text_[at_] == (c == '{' ? '}' : ']')) {
          ++at_;
          done = std::move(open.back().container);
          open.pop_back();
        } else {
          if (c == '{' && !member_name(open.back().name)) return std::nullopt;
          continue;
        }
      } else if (!scalar(done)) {
        return std::nullopt;
      }
      // A value is complete: add it to the innermost open container and close those that end.
      while (true) {
        skip_space();
        if (open.empty()) {
          if (at_ != text_.size()) return std::nullopt;
          return done;
        }
        Open& top = open.back();
        const bool is_object = top.container.is_object();
        if (is_object) {
          top.container[std::move(top.name)] = std::move(done);  // a repeated name: the last wins, as in nlohmann
        } else {
          top.container.push_back(std::move(done));
        }
        if (at_ >= text_.size()) return std::nullopt;
        const char next = text_[at_++];
        if (next == ',') {
          skip_space();
          if (is_object && !member_name(top.name)) return std::nullopt;
          break;  // the next value
        }
        if (next != (is_object ? '}' : ']')) return std::nullopt;
        done = std::move(top.container);
        open.pop_back();
      }
    }
  }

 private:
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) ++at_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  // `"name"` and `:`, and the space after it.
  bool member_name(WipingString& name) {
    if (at_ >= text_.size() || text_[at_] != '"' || !string(name)) return false;
    skip_space();
    if (at_ >= text_.size() || text_[at_] != ':') return false;
    ++at_;
    skip_space();
    return true;
  }

  bool scalar(SecretJson& out) {
    const char c = text_[at_];
    if (c == '"') {
      WipingString text;
      if (!string(text)) return false;
      out = SecretJson(std::move(text));
      return true;
    }
    if (c == 't' && literal("true")) { out = true; return true; }
    if (c == 'f' && literal("false")) { out = false; return true; }
    if (c == 'n' && literal("null")) { out = nullptr; return true; }
    return number(out);
  }

  static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool hex4(unsigned& out) {
    if (text_.size() - at_ < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int digit = hex_digit(text_[at_ + static_cast<std::size_t>(i)]);
      if (digit < 0) return false;
      out = out * 16 + static_cast<unsigned>(digit);
    }
    at_ += 4;
    return true;
  }
  static void append_utf8(WipingString& out, unsigned code_point) {
    if (code_point < 0x80) {
      out.push_back(static_cast<char>(code_point));
    } else if (code_point < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
      out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else if (code_point < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
    }
  }
  // The length of the valid UTF-8 sequence (RFC 3629 §4) at the current position, or 0.
  std::size_t utf8_sequence() const {
    auto byte = [&](std::size_t i) { return at_ + i < text_.size() ? static_cast<unsigned char>(text_[at_ + i]) : 0u; };
    auto tail = [&](std::size_t i, unsigned low = 0x80, unsigned high = 0xBF) { return byte(i) >= low && byte(i) <= high; };
    const unsigned lead = byte(0);
    if (lead >= 0xC2 && lead <= 0xDF) return tail(1) ? 2 : 0;
    if (lead == 0xE0) return tail(1, 0xA0) && tail(2) ? 3 : 0;
    if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) return tail(1) && tail(2) ? 3 : 0;
    if (lead == 0xED) return tail(1, 0x80, 0x9F) && tail(2) ? 3 : 0;
    if (lead == 0xF0) return tail(1, 0x90) && tail(2) && tail(3) ? 4 : 0;
    if (lead >= 0xF1 && lead <= 0xF3) return tail(1) && tail(2) && tail(3) ? 4 : 0;
    if (lead == 0xF4) return tail(1, 0x80, 0x8F) && tail(2) && tail(3) ? 4 : 0;
    return 0;
  }

  bool string(WipingString& out) {
    ++at_;  // '"'
    out.clear();
    // The raw text up to the closing quote bounds the size: reserve once, so that the string
    // never regrows (each regrowth would be a copy, wiped, but a needless one).
    std::size_t raw = at_;
    while (raw < text_.size() && text_[raw] != '"') raw += text_[raw] == '\\' ? 2 : 1;
    out.reserve(std::min(raw, text_.size()) - at_);
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (c == '"') { ++at_; return true; }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        if (static_cast<unsigned char>(c) < 0x80) {
          // The run of plain ASCII characters from here, appended at once (a token is one long run).
          std::size_t end = at_ + 1;
          while (end < text_.size()) {
            const auto next = static_cast<unsigned char>(text_[end]);
            if (next == '"' || next == '\\' || next < 0x20 || next >= 0x80) break;
            ++end;
          }
          out.append(text_.substr(at_, end - at_));
          at_ = end;
          continue;
        }
        const std::size_t length = utf8_sequence();
        if (length == 0) return false;
        out.append(text_.substr(at_, length));
        at_ += length;
        continue;
      }
      if (++at_ >= text_.size()) return false;
      const char escaped = text_[at_++];
      switch (escaped) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          unsigned code_point = 0;
          if (!hex4(code_point)) return false;
          if (code_point >= 0xDC00 && code_point <= 0xDFFF) return false;  // a lone low surrogate
          if (code_point >= 0xD800 && code_point <= 0xDBFF) {             // RFC 8259 §7: a pair
            unsigned low = 0;
            if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, code_point);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  bool number(SecretJson& out) {
    const std::size_t begin = at_;
    auto digits = [&] {
      const std::size_t from = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      return at_ > from;
    };
    const bool negative = at_ < text_.size() && text_[at_] == '-';
    if (negative) ++at_;
    if (at_ < text_.size() && text_[at_] == '0') {
      ++at_;
    } else if (!digits()) {
      return false;
    }
    bool integral = true;
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      if (!digits()) return false;
      integral = false;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      if (!digits()) return false;
      integral = false;
    }
    const char* first = text_.data() + begin;
    const char* last = text_.data() + at_;
    if (integral && !negative) {
      std::uint64_t parsed = 0;
      if (auto [end, ec] = std::from_chars(first, last, parsed); ec == std::errc{} && end == last) { out = parsed; return true; }
    } else if (integral) {
      std::int64_t parsed = 0;
      if (auto [end, ec] = std::from_chars(first, last, parsed); ec == std::errc{} && end == last) { out = parsed; return true; }
    }
    // A fraction, an exponent, or an integer too large for 64 bits: strtod, as nlohmann reads them
    // (with the locale's decimal point). Not std::from_chars: libstdc++'s floating-point one needs
    // libm (fesetround), which the `token` fast path's executable does not load.
    std::string number_text(first, last);
    if (const char point = *std::localeconv()->decimal_point; point != '.') {  // NOLINT(concurrency-mt-unsafe): read only
      std::replace(number_text.begin(), number_text.end(), '.', point);
    }
    char* end = nullptr;
    const double parsed = std::strtod(number_text.c_str(), &end);
    if (end != number_text.c_str() + number_text.size() || !std::isfinite(parsed)) return false;  // overflow: inf
    out = parsed;
    return true;
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

}  // namespace secret_json_detail

// Parses `text` (RFC 8259) into a SecretJson, or nullopt when it is not valid JSON.
[[nodiscard]] inline std::optional<SecretJson> parse_secret_json(std::string_view text) {
  return secret_json_detail::Reader(text).document();
}

}  // namespace devicelogin::core
