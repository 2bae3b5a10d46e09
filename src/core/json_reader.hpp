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
#include <array>
#include <bit>
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

// What the reader and the scanner below share: the lexical rules (RFC 8259) at a position.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  void skip_space() {
    // Every JSON space is at most ' ': most calls meet a token at once and end on this test.
    while (at_ < text_.size() && static_cast<unsigned char>(text_[at_]) <= ' ' &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
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
  template <class String>
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
      // The lowest flagged byte is the first special one: each test can flag a byte it should not
      // only above one it rightly flags (a borrow runs upwards), so the first is always right.
      // (Little-endian: the first byte in memory is the lowest; elsewhere the bytes are looked at
      // one by one below.)
      if (special != 0) {
        if constexpr (std::endian::native == std::endian::little) return from + static_cast<std::size_t>(std::countr_zero(special) / 8);
        break;
      }
      from += 8;
    }
    while (from < text_.size()) {
      const auto next = static_cast<unsigned char>(text_[from]);
      if (next == '"' || next == '\\' || next < 0x20 || next >= 0x80) break;
      ++from;
    }
    return from;
  }

  // Where a string only checked goes: nowhere (no copy of what may be a secret is made).
  struct Discard {
    void clear() {}
    void reserve(std::size_t) {}
    void assign(const char*, std::size_t) {}
    void append(const char*, std::size_t) {}
    void push_back(char) {}
  };

  // Reads the string at '"' into `*into`, or only checks it when `into` is null (a value that is
  // not kept).
  template <class String>
  bool string(String* into) {
    if (into != nullptr) return decode(*into);
    Discard nowhere;
    return decode(nowhere);
  }

  template <class String>
  bool decode(String& out) {
    ++at_;  // '"'
    out.clear();
    // Most strings are one plain run up to the closing quote: copied at once, at its size.
    const std::size_t run_end = plain_run_end(at_);
    if (run_end < text_.size() && text_[run_end] == '"') {
      out.assign(text_.data() + at_, run_end - at_);
      at_ = run_end + 1;
      return true;
    }
    // The raw text up to the closing quote bounds the size: reserve once, so that the string
    // never regrows (each regrowth would be a copy, wiped for a WipingString, but a needless one).
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

  // The number at the current position (RFC 8259 §6), as nlohmann reads it: a non-negative
  // integer that fits 64 bits as unsigned, a negative one that fits as signed, anything else as a
  // finite double (an overflow to infinity is refused, as nlohmann refuses it).
  struct Number {
    enum Kind { kUnsigned, kSigned, kDouble } kind;
    std::uint64_t unsigned_value = 0;
    std::int64_t signed_value = 0;
    double double_value = 0;
  };
  bool number(Number& out) {
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
      if (auto [end, ec] = std::from_chars(first, last, out.unsigned_value); ec == std::errc{} && end == last) {
        out.kind = Number::kUnsigned;
        return true;
      }
    } else if (integral) {
      if (auto [end, ec] = std::from_chars(first, last, out.signed_value); ec == std::errc{} && end == last) {
        out.kind = Number::kSigned;
        return true;
      }
    }
    // A fraction, an exponent, or an integer too large for 64 bits: strtod, as nlohmann reads them
    // (with the locale's decimal point). Not std::from_chars: libstdc++'s floating-point one needs
    // libm (fesetround), which the `token` fast path's executable does not load.
    std::string number_text(first, last);
    if (const char point = *std::localeconv()->decimal_point; point != '.') {  // NOLINT(concurrency-mt-unsafe): read only
      std::replace(number_text.begin(), number_text.end(), '.', point);
    }
    char* end = nullptr;
    out.double_value = std::strtod(number_text.c_str(), &end);
    if (end != number_text.c_str() + number_text.size() || !std::isfinite(out.double_value)) return false;  // overflow: inf
    out.kind = Number::kDouble;
    return true;
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

template <class Json>
class Reader : private Lexer {
 public:
  using String = typename Json::string_t;

  Reader(std::string_view text, const ReadLimits& limits, JsonMemberSink<Json>* sink = nullptr)
      : Lexer(text), limits_(limits), sink_(sink) {}

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

  // `"name"` and `:`, and the space after it, for the innermost open object.
  template <class Opens>
  bool member_name(Opens& open) {
    auto& top = open.back();
    // The name is needed where the member is stored, and at the root (left_out_member).
    const bool needed = top.kept || open.size() == 1;
    if (at_ >= text_.size() || text_[at_] != '"' || !string<String>(needed ? &top.name : nullptr)) return false;
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
      if (!keep) return string<String>(nullptr);
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

  bool number(Json& out) {
    Number parsed{};
    if (!Lexer::number(parsed)) return false;
    switch (parsed.kind) {
      case Number::kUnsigned: out = parsed.unsigned_value; break;
      case Number::kSigned: out = parsed.signed_value; break;
      case Number::kDouble: out = parsed.double_value; break;
    }
    return true;
  }

  ReadLimits limits_;
  JsonMemberSink<Json>* sink_;
};


// Walks a text as Reader reads it, refusing exactly the same texts, but builds nothing: it gives
// the members of a root object (or the elements of a root array) as the text of each value, for a
// caller that takes a few known members and decodes only those (json_string_value and the others
// below). No allocation for names or values that are plain runs, nor for nesting up to 15 deep.
class Scanner : private Lexer {
 public:
  Scanner(std::string_view text, std::size_t max_depth) : Lexer(text), max_depth_(max_depth) {}

  enum class Root { kInvalid, kObject, kOther };

  // `visit(name, value)` for each member of a root object (the name decoded, the value's text as
  // it stands, e.g. `"a\"b"`, `12`, `{...}`), or each element of a root array (the name empty), in
  // the order of the text: a repeated name comes again. It may be called before the text turns
  // out invalid further on: what it was given counts only when scan() does not say kInvalid.
  template <class Visit>
  Root scan(Visit&& visit) {
    std::string open;  // '{' or '[' per open container, innermost last
    std::string name_buffer;
    std::string_view name;
    std::size_t value_begin = 0;
    char root = 0;
    if (text_.starts_with("\xEF\xBB\xBF")) at_ = 3;
    skip_space();
    while (true) {
      // A value starts here.
      if (at_ >= text_.size()) return Root::kInvalid;
      const char c = text_[at_];
      if (root == 0) root = c;
      if (open.size() == 1) value_begin = at_;
      if (c == '{' || c == '[') {
        if (open.size() >= max_depth_) return Root::kInvalid;
        ++at_;
        open.push_back(c);
        skip_space();
        if (at_ < text_.size() && text_[at_] == (c == '{' ? '}' : ']')) {
          ++at_;
          open.pop_back();
        } else {
          if (c == '{' && !member_name(open.size() == 1, name_buffer, name)) return Root::kInvalid;
          continue;
        }
      } else if (!scalar()) {
        return Root::kInvalid;
      }
      // A value is complete: it belongs to the innermost open container; close those that end.
      while (true) {
        const std::size_t value_end = at_;
        skip_space();
        if (open.empty()) {
          // After the value, a NUL byte ends the text (as for Reader); anything else refuses it.
          if (at_ != text_.size()) {
            if (text_[at_] != '\0') return Root::kInvalid;
            if (max_depth_ != ReadLimits{}.max_depth && !json_nesting_within(text_.substr(at_), max_depth_)) {
              return Root::kInvalid;
            }
          }
          return root == '{' ? Root::kObject : Root::kOther;
        }
        if (open.size() == 1) visit(name, text_.substr(value_begin, value_end - value_begin));
        if (at_ >= text_.size()) return Root::kInvalid;
        const bool is_object = open.back() == '{';
        const char next = text_[at_++];
        if (next == ',') {
          skip_space();
          if (is_object && !member_name(open.size() == 1, name_buffer, name)) return Root::kInvalid;
          break;  // the next value
        }
        if (next != (is_object ? '}' : ']')) return Root::kInvalid;
        open.pop_back();
      }
    }
  }

 private:
  // `"name"` and `:` and the space after it; the name kept in `name` for a root member (a view of
  // the text when it is one plain run, else decoded into `buffer`).
  bool member_name(bool root_member, std::string& buffer, std::string_view& name) {
    if (at_ >= text_.size() || text_[at_] != '"') return false;
    if (!root_member) {
      if (!string<std::string>(nullptr)) return false;
    } else if (const std::size_t run_end = plain_run_end(at_ + 1); run_end < text_.size() && text_[run_end] == '"') {
      name = text_.substr(at_ + 1, run_end - at_ - 1);
      at_ = run_end + 1;
    } else {
      if (!string(&buffer)) return false;
      name = buffer;
    }
    skip_space();
    if (at_ >= text_.size() || text_[at_] != ':') return false;
    ++at_;
    skip_space();
    return true;
  }

  bool scalar() {
    const char c = text_[at_];
    if (c == '"') return string<std::string>(nullptr);
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    Number unused{};
    return number(unused);
  }

  std::size_t max_depth_;
};

// The string a value's text from Scanner holds, as a String (std::string, WipingString, ...), or
// nullopt when the value is not a string. The text must come from a scan that did not refuse it.
template <class String>
[[nodiscard]] std::optional<String> string_value(std::string_view value) {
  if (value.size() < 2 || value.front() != '"') return std::nullopt;
  const std::string_view inner = value.substr(1, value.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return String(inner.data(), inner.size());
  Lexer lexer(value);
  // Decoded in place: a local returned into the optional would be moved, and a short string's
  // move copies its bytes and leaves them behind (no heap buffer for a wiping allocator to wipe).
  std::optional<String> decoded(std::in_place);
  if (!lexer.string(&*decoded)) return std::nullopt;
  return decoded;
}

// The number a value's text from Scanner holds, as nlohmann keeps it (Lexer::Number), or nullopt
// when it is not a number.
[[nodiscard]] inline std::optional<Lexer::Number> number_value(std::string_view value) {
  if (value.empty() || !(value.front() == '-' || (value.front() >= '0' && value.front() <= '9'))) return std::nullopt;
  Lexer lexer(value);
  Lexer::Number number{};
  if (!lexer.number(number)) return std::nullopt;
  return number;
}

}  // namespace json_reader_detail

using JsonScanner = json_reader_detail::Scanner;
using JsonNumber = json_reader_detail::Lexer::Number;
using json_reader_detail::number_value;
using json_reader_detail::string_value;

// An integer value's text from JsonScanner as nlohmann's get<long long>() reads an integer (an
// unsigned one above the signed range wraps, as its cast does), with whether nlohmann keeps it
// unsigned; nullopt for a fraction, an exponent, an overflowing integer, or not a number.
struct JsonInteger {
  long long value;
  bool is_unsigned;
};
[[nodiscard]] inline std::optional<JsonInteger> integer_value(std::string_view value) {
  const auto number = number_value(value);
  if (!number || number->kind == JsonNumber::kDouble) return std::nullopt;
  if (number->kind == JsonNumber::kUnsigned) return JsonInteger{static_cast<long long>(number->unsigned_value), true};
  return JsonInteger{static_cast<long long>(number->signed_value), false};
}

// A boolean value's text from JsonScanner, or nullopt.
[[nodiscard]] inline std::optional<bool> bool_value(std::string_view value) {
  if (value == "true") return true;
  if (value == "false") return false;
  return std::nullopt;
}

// The texts of a root object's known members as JsonScanner gives them (the last of a repeated
// name counts), for a reader that decodes only the members it reads. `names` lists them in the
// order a text usually has them: each search starts after the last name found, so such a text
// costs one comparison a member. `names` must outlive this.
template <std::size_t N>
class MemberTexts {
 public:
  explicit MemberTexts(const std::array<std::string_view, N>& names) : names_(names) {}
  // JsonScanner::scan's visit: keeps `value` when `name` is one of `names`.
  void take(std::string_view name, std::string_view value) {
    for (std::size_t step = 0; step < N; ++step) {
      const std::size_t i = next_;
      next_ = next_ + 1 == N ? 0 : next_ + 1;
      if (name == names_[i]) {
        values_[i] = value;
        return;
      }
    }
  }
  // The text of names[index] (empty when the text had no such member: a value's text never is).
  [[nodiscard]] std::string_view at(std::size_t index) const { return index < N ? values_[index] : std::string_view{}; }
  [[nodiscard]] std::string_view find(std::string_view name) const {
    for (std::size_t i = 0; i < N; ++i) {
      if (name == names_[i]) return values_[i];
    }
    return {};
  }

 private:
  const std::array<std::string_view, N>& names_;
  std::array<std::string_view, N> values_{};
  std::size_t next_ = 0;
};

// The string elements (in order, the others skipped) of an array value's text from JsonScanner;
// empty when it is not an array.
template <class String>
[[nodiscard]] std::vector<String> string_elements(std::string_view value) {
  std::vector<String> out;
  if (value.empty() || value.front() != '[') return out;
  JsonScanner(value, ReadLimits{}.max_depth).scan([&](std::string_view, std::string_view element) {
    if (auto text = string_value<String>(element)) out.push_back(std::move(*text));
  });
  return out;
}

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
