#include "core/encoding.hpp"

#include <array>

#include "devicelogin/sanitize.hpp"

namespace devicelogin::core {
namespace {
constexpr char kHex[] = "0123456789ABCDEF";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64(std::string_view bytes, bool url) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  auto put = [&](unsigned v) {
    char c = kB64[v & 63];
    if (url && c == '+') c = '-';
    if (url && c == '/') c = '_';
    out.push_back(c);
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    put(v >> 18); put(v >> 12); put(v >> 6); put(v);
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    unsigned v = at(i) << 16;
    put(v >> 18); put(v >> 12);
    if (!url) out += "==";
  } else if (rest == 2) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8);
    put(v >> 18); put(v >> 12); put(v >> 6);
    if (!url) out += "=";
  }
  return out;
}

// Percent-encodes everything but RFC 3986 unreserved characters; a space becomes '+' when
// `space_as_plus` (application/x-www-form-urlencoded), %20 otherwise.
std::string percent_encode(std::string_view text, bool space_as_plus) {
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (space_as_plus && c == ' ') {
      out.push_back('+');
    } else if (unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}
}  // namespace

std::string url_encode(std::string_view text) { return percent_encode(text, false); }

std::string form_urlencode_value(std::string_view text) { return percent_encode(text, true); }

std::string form_encode(const FormFields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += url_encode(name);
    out.push_back('=');
    out += url_encode(value);
  }
  return out;
}

Secret form_encode_secret(const FormFields& fields) {
  std::size_t bound = 0;
  for (const auto& [name, value] : fields) bound += 2 + 3 * (name.size() + value.size());
  Secret out;
  out.reserve(bound);  // one allocation: no reallocation leaves partial copies behind
  auto append_encoded = [&out](std::string_view text) {
    for (unsigned char c : text) {
      if (unreserved(c)) {
        const char kept = static_cast<char>(c);
        out.append(std::string_view(&kept, 1));
      } else {
        const char escaped[3] = {'%', kHex[c >> 4], kHex[c & 15]};
        out.append(std::string_view(escaped, 3));
      }
    }
  };
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.append("&");
    append_encoded(name);
    out.append("=");
    append_encoded(value);
  }
  return out;
}

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() &&
               hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

FormFields form_decode(std::string_view body) {
  FormFields fields;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      fields.emplace_back(url_decode(pair), std::string{});
    } else {
      fields.emplace_back(url_decode(pair.substr(0, eq)), url_decode(pair.substr(eq + 1)));
    }
  }
  return fields;
}

// The value of each base64 character (either alphabet, RFC 4648 §4 and §5), -1 for any other byte:
// one table lookup a character, four characters to three bytes at a time (this decodes the
// claims of every token the audit trail names, on the `token` hot path).
constexpr std::array<signed char, 256> kBase64Values = [] {
  std::array<signed char, 256> values{};
  values.fill(-1);
  for (int i = 0; i < 26; ++i) {
    values[static_cast<std::size_t>('A' + i)] = static_cast<signed char>(i);
    values[static_cast<std::size_t>('a' + i)] = static_cast<signed char>(26 + i);
  }
  for (int i = 0; i < 10; ++i) values[static_cast<std::size_t>('0' + i)] = static_cast<signed char>(52 + i);
  values['-'] = values['+'] = 62;
  values['_'] = values['/'] = 63;
  return values;
}();

std::optional<std::string> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  const std::size_t tail = text.size() % 4;
  if (tail == 1) return std::nullopt;  // a lone trailing character cannot encode a byte
  auto value = [&](std::size_t i) { return static_cast<int>(kBase64Values[static_cast<unsigned char>(text[i])]); };
  std::string out(text.size() / 4 * 3 + (tail == 0 ? 0 : tail - 1), '\0');
  std::size_t o = 0;
  std::size_t i = 0;
  for (; i + 4 <= text.size(); i += 4) {
    const int a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    if ((a | b | c | d) < 0) return std::nullopt;
    const auto bits = static_cast<unsigned>((a << 18) | (b << 12) | (c << 6) | d);
    out[o++] = static_cast<char>((bits >> 16) & 0xFF);
    out[o++] = static_cast<char>((bits >> 8) & 0xFF);
    out[o++] = static_cast<char>(bits & 0xFF);
  }
  if (tail != 0) {
    const int a = value(i), b = value(i + 1), c = tail == 3 ? value(i + 2) : 0;
    if ((a | b | c) < 0) return std::nullopt;
    const auto bits = static_cast<unsigned>((a << 18) | (b << 12) | (c << 6));
    out[o++] = static_cast<char>((bits >> 16) & 0xFF);
    if (tail == 3) out[o++] = static_cast<char>((bits >> 8) & 0xFF);
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) { return b64(bytes, true); }
std::string base64_encode(std::string_view bytes) { return b64(bytes, false); }

std::pair<char32_t, std::size_t> utf8_code_point_at(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  std::size_t length = 0;
  char32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return {0, 0};
  }
  if (i + length > text.size()) return {0, 0};
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (next & 0x3F);
  }
  const bool shortest = (length == 3 && cp >= 0x800) || (length == 4 && cp >= 0x10000) || length == 2;
  if (!shortest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, length};
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace devicelogin::core

namespace devicelogin {

bool json_nesting_within(std::string_view json_text, std::size_t max_depth) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json_text.size(); ++i) {
    const char c = json_text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

namespace {

// Code points that draw nothing yet change what a reader sees: Unicode's Default_Ignorable_Code_Point
// set (zero-width spaces and joiners, bidi marks, embeddings, overrides and isolates, soft hyphen,
// invisible fillers, variation selectors, tags), plus the line and paragraph separators and the
// interlinear annotation characters. In a verification URL they can make a foreign host read as a
// familiar one ("micros\u200Boft.com", an RLO that reverses "moc.tfosorcim"); in a user code or a
// message they hide or reorder what the user compares.
bool invisible_or_reordering(char32_t cp) {
  return cp == 0x00AD || cp == 0x034F || cp == 0x061C || cp == 0x115F || cp == 0x1160 || cp == 0x17B4 ||
         cp == 0x17B5 || (cp >= 0x180B && cp <= 0x180F) || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0x3164 ||
         (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || cp == 0xFFA0 || (cp >= 0xFFF0 && cp <= 0xFFFB) ||
         (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A) || (cp >= 0xE0000 && cp <= 0xE0FFF);
}

}  // namespace

std::string sanitize_text(std::string_view text) {
  // Drops C0 controls, DEL, and the UTF-8 encodings of C1 controls (U+0080..U+009F, which some
  // terminals treat as CSI and friends) and of the invisible or reordering characters above. A
  // byte that is no well-formed UTF-8 becomes U+FFFD: kept as it was, it could join with the bytes
  // after a removed character into one of them ("\xC2" "\x01" "\x9B" would leave a CSI).
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c >= 0x20 && c != 0x7F) out.push_back(static_cast<char>(c));
      continue;
    }
    auto [cp, length] = core::utf8_code_point_at(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      continue;
    }
    if (cp > 0x9F && !invisible_or_reordering(cp)) out.append(text.substr(i, length));
    i += length - 1;
  }
  return out;
}

}  // namespace devicelogin
