#pragma once
// A strict RFC 8259 reader that builds a nlohmann JSON value of any string type, hand-written
// rather than nlohmann's own parser for two reasons:
//  - secrets: nlohmann's lexer records every character it reads in a std::vector<char>
//    (`token_string`, for its error messages) that no allocator parameter reaches and that is
//    freed unwiped; this reader holds what it reads only in the value's own string type (a
//    WipingString for SecretJson, core/secret_json.hpp);
//  - the `token` hot path: nlohmann's lexer reads one character at a time through an input
//    adapter and copies each into that vector, about 40 instructions a character; this reader
//    takes a run of plain string characters eight at a time and copies it at once, and can leave
//    out what its caller never reads (ReadLimits), so a profile's cached JWKS is checked, not kept.
// It accepts what nlohmann's parser accepts (a leading UTF-8 byte order mark, anything after a NUL
// byte that follows the value, no comments, valid
// UTF-8 strings, finite numbers, non-negative integers as unsigned, as nlohmann stores them): the
// unit tests (tests/unit/core/secret_json_test.cpp, json_reader_test.cpp) and the fuzz target
// fuzz/json_reader_fuzzer.cpp compare the two on the same inputs.
//
// Header-only: core itself does not link nlohmann; the modules that include this one (oauth, store)
// do.
#include <algorithm>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "devicelogin/sanitize.hpp"

namespace devicelogin::core {

// What a reader keeps and how deep it goes. Everything is always read and checked: a limit only
// decides what is stored.
struct ReadLimits {
  // Containers nested deeper than this refuse the text (the bound json_nesting_within checks).
  std::size_t max_depth = std::numeric_limits<std::size_t>::max();
  // Values more than this many containers down are not stored: a container at this depth is kept
  // empty (0: only the root value, its containers empty; 1: the root's members or elements, theirs
  // empty; ...).
  std::size_t kept_depth = std::numeric_limits<std::size_t>::max();
  // A member of the root object with this name is left out (with its value) when not empty.
  std::string_view left_out_member;
};

// Takes the members of a root object as they are read, instead of the object (read_json_members).
template <class Json>
class JsonMemberSink {
 public:
  virtual ~JsonMemberSink() = default;
  // Each member in the order of the text (a repeated name comes again: the last one counts, as
  // in nlohmann); `value` is kept as the limits say.
  virtual void member(typename Json::string_t& name, Json&& value) = 0;
};

namespace json_reader_detail {

template <class Json>
class Reader {
 public:
  using String = typename Json::string_t;

  Reader(std::string_view text, const ReadLimits& limits, JsonMemberSink<Json>* sink = nullptr)
      : text_(text), limits_(limits), sink_(sink) {}

  // Iterative (an explicit stack of open arrays and objects), so that hostile nesting
  // (`[[[[...]]]]` 100k deep) cannot overflow the stack.
  std::optional<Json> document() {
    struct Open {
      Json container;
      String name;          // of the member whose value is being read, in an object
      bool is_object;
      bool kept;            // its values are stored
      bool left_out = false;  // the current member is limits_.left_out_member (root object only)
    };
    std::vector<Open> open;
    Json done;  // the last complete value
    // A UTF-8 byte order mark before the value is skipped, as nlohmann's lexer does.
    if (text_.starts_with("\xEF\xBB\xBF")) at_ = 3;
    skip_space();
    while (true) {
      // A value starts here.
      if (at_ >= text_.size()) return std::nullopt;
      const char c = text_[at_];
      if (c == '{' || c == '[') {
        if (open.size() >= limits_.max_depth) return std::nullopt;
        ++at_;
        const bool is_object = c == '{';
        // The new container is at depth open.size(); its values one further down.
        const bool kept = (open.empty() || open.back().kept) && open.size() < limits_.kept_depth;
        open.push_back(Open{kept ? (is_object ? Json::object() : Json::array()) : Json(), {}, is_object, kept});
        skip_space();
        if (at_ < text_.size() && text_[at_] == (is_object ? '}' : ']')) {
          ++at_;
          done = close(open.back());
          open.pop_back();
        } else {
          if (is_object && !member_name(open)) return std::nullopt;
          continue;
        }
      } else if (!scalar(done, open.empty() || open.back().kept)) {
        return std::nullopt;
      }
      // A value is complete: add it to the innermost open container and close those that end.
      while (true) {
        skip_space();
        if (open.empty()) {
          // After the value, a NUL byte ends the text, as it does for nlohmann's lexer (which
          // reads it as the end of its input); anything else there refuses it.
          if (at_ != text_.size()) {
            if (text_[at_] != '\0') return std::nullopt;
            // What follows still counts for the nesting bound, as json_nesting_within, which
            // nlohmann's callers check on the whole text, counts it.
            if (limits_.max_depth != ReadLimits{}.max_depth && !json_nesting_within(text_.substr(at_), limits_.max_depth)) {
              return std::nullopt;
            }
          }
          return done;
        }
        Open& top = open.back();
        if (top.kept && !top.left_out) {
          if (sink_ != nullptr && open.size() == 1 && top.is_object) {
            sink_->member(top.name, std::move(done));
          } else if (top.is_object) {
            top.container[std::move(top.name)] = std::move(done);  // a repeated name: the last wins, as in nlohmann
          } else {
            top.container.push_back(std::move(done));
          }
        }
        if (at_ >= text_.size()) return std::nullopt;
        const char next = text_[at_++];
        if (next == ',') {
          skip_space();
          if (top.is_object && !member_name(open)) return std::nullopt;
          break;  // the next value
        }
        if (next != (top.is_object ? '}' : ']')) return std::nullopt;
        done = close(top);
        open.pop_back();
      }
    }
  }

 private:
  // The complete value of a container: itself when kept, else an empty one of its kind.
  template <class Open>
  static Json close(Open& container) {
    if (container.kept) return std::move(container.container);
    return container.is_object ? Json::object() : Json::array();
  }

  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) ++at_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  // `"name"` and `:`, and the space after it, for the innermost open object.
  template <class Opens>
  bool member_name(Opens& open) {
    auto& top = open.back();
    // The name is needed where the member is stored, and at the root (left_out_member).
    const bool needed = top.kept || open.size() == 1;
    if (at_ >= text_.size() || text_[at_] != '"' || !string(needed ? &top.name : nullptr)) return false;
    top.left_out = open.size() == 1 && !limits_.left_out_member.empty() && top.name == limits_.left_out_member;
    skip_space();
    if (at_ >= text_.size() || text_[at_] != ':') return false;
    ++at_;
    skip_space();
    return true;
  }

  // `keep`: the value is stored (else it is only checked).
  bool scalar(Json& out, bool keep) {
    const char c = text_[at_];
    if (c == '"') {
      if (!keep) return string(nullptr);
      String text;
      if (!string(&text)) return false;
      out = Json(std::move(text));
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
  static void append_utf8(String& out, unsigned code_point) {
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

  // Where the run of plain string characters from `from` ends: the first '"', '\\', control
  // character (< 0x20) or non-ASCII byte, or the end of the text. Eight bytes at a time while none
  // of them is one of those (the classic "has a zero byte / a byte less than n" word tests: each
  // flags a word that holds such a byte, never one that does not), then byte by byte.
  std::size_t plain_run_end(std::size_t from) const {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
    auto has_zero_byte = [&](std::uint64_t word) { return (word - kOnes) & ~word & kHighs; };
    while (text_.size() - from >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, text_.data() + from, sizeof word);
      const std::uint64_t special = (word & kHighs) | ((word - kOnes * 0x20) & ~word & kHighs) |
                                    has_zero_byte(word ^ (kOnes * '"')) | has_zero_byte(word ^ (kOnes * '\\'));
      if (special != 0) break;
      from += 8;
    }
    while (from < text_.size()) {
      const auto next = static_cast<unsigned char>(text_[from]);
      if (next == '"' || next == '\\' || next < 0x20 || next >= 0x80) break;
      ++from;
    }
    return from;
  }

  // Reads the string at '"' into `*into`, or only checks it when `into` is null (a value that is
  // not kept).
  bool string(String* into) {
    ++at_;  // '"'
    String unused;
    String& out = into != nullptr ? *into : unused;
    out.clear();
    // Most strings are one plain run up to the closing quote: copied at once, at its size.
    const std::size_t run_end = plain_run_end(at_);
    if (run_end < text_.size() && text_[run_end] == '"') {
      if (into != nullptr) out.assign(text_.data() + at_, run_end - at_);
      at_ = run_end + 1;
      return true;
    }
    // The raw text up to the closing quote bounds the size: reserve once, so that the string
    // never regrows (each regrowth would be a copy, wiped for a WipingString, but a needless one).
    // A string only checked is still decoded (into `unused`): rare outside plain runs.
    std::size_t raw = at_;
    while (raw < text_.size() && text_[raw] != '"') raw += text_[raw] == '\\' ? 2 : 1;
    out.reserve(std::min(raw, text_.size()) - at_);
    while (at_ < text_.size()) {
      const char c = text_[at_];
      if (c == '"') { ++at_; return true; }
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        if (static_cast<unsigned char>(c) < 0x80) {
          const std::size_t end = plain_run_end(at_ + 1);
          out.append(text_.data() + at_, end - at_);
          at_ = end;
          continue;
        }
        const std::size_t length = utf8_sequence();
        if (length == 0) return false;
        out.append(text_.data() + at_, length);
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

  bool number(Json& out) {
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
  ReadLimits limits_;
  JsonMemberSink<Json>* sink_;
  std::size_t at_ = 0;
};

}  // namespace json_reader_detail

// Parses `text` (RFC 8259) into a Json (a nlohmann::basic_json), keeping what `limits` keeps, or
// nullopt when it is not valid JSON or nests deeper than limits.max_depth.
template <class Json>
[[nodiscard]] std::optional<Json> read_json(std::string_view text, const ReadLimits& limits = {}) {
  return json_reader_detail::Reader<Json>(text, limits).document();
}

// read_json, with the members of a root object given to `sink` as they are read rather than
// gathered into the object (which is then empty): for a caller that takes a few known members and
// needs no map of them. The same texts refused; nullopt for those.
template <class Json>
[[nodiscard]] std::optional<Json> read_json_members(std::string_view text, const ReadLimits& limits, JsonMemberSink<Json>& sink) {
  return json_reader_detail::Reader<Json>(text, limits, &sink).document();
}

}  // namespace devicelogin::core
