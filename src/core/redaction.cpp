#include "core/redaction.hpp"

#include <array>

#include "core/encoding.hpp"

namespace devicelogin::core {
namespace {
constexpr std::array<std::string_view, 13> kSecretFields = {
    "device_code", "code",          "access_token", "refresh_token", "id_token",
    "client_secret", "password",    "assertion",    "client_assertion", "subject_token",
    "actor_token",  "code_verifier", "token"};

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
}  // namespace

bool is_secret_field(std::string_view name) {
  std::string lower = ascii_lower(name);
  for (auto field : kSecretFields) {
    if (lower == field) return true;
  }
  return false;
}

bool is_secret_header(std::string_view name) {
  std::string lower = ascii_lower(name);
  return lower == "authorization" || lower == "proxy-authorization" || lower == "cookie" ||
         lower == "set-cookie" || lower == "dpop";
}

std::string redact_form(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  std::size_t start = 0;
  while (start <= body.size()) {
    auto amp = body.find('&', start);
    std::string_view pair = body.substr(start, amp == std::string_view::npos ? body.npos : amp - start);
    auto eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    if (eq != std::string_view::npos && is_secret_field(url_decode(name))) {
      out += name;
      out += '=';
      out += kRedacted;
    } else {
      out += pair;
    }
    if (amp == std::string_view::npos) break;
    out += '&';
    start = amp + 1;
  }
  return out;
}

std::string redact_json(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  std::size_t i = 0;
  while (i < body.size()) {
    if (body[i] != '"') {
      out += body[i++];
      continue;
    }
    // A string token: find its end (honouring escapes).
    std::size_t end = i + 1;
    while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
    std::string_view token = body.substr(i + 1, std::min(end, body.size()) - i - 1);
    out += body.substr(i, std::min(end + 1, body.size()) - i);
    i = end + 1;
    if (i > body.size()) break;
    // Is it a member name followed by ':' and a string value?
    std::size_t j = i;
    while (j < body.size() && is_json_space(body[j])) ++j;
    if (j >= body.size() || body[j] != ':' || !is_secret_field(token)) continue;
    ++j;
    while (j < body.size() && is_json_space(body[j])) ++j;
    out += body.substr(i, j - i);
    i = j;
    if (i < body.size() && body[i] == '"') {
      std::size_t value_end = i + 1;
      while (value_end < body.size() && body[value_end] != '"') value_end += body[value_end] == '\\' ? 2 : 1;
      out += '"';
      out += kRedacted;
      out += '"';
      i = value_end + 1;
    }
  }
  return out;
}

std::string redact_userinfo(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t done = 0;
  for (auto sep = text.find("://"); sep != std::string_view::npos; sep = text.find("://", sep + 3)) {
    std::size_t start = sep + 3;
    if (start < done) continue;
    // The authority ends at the path or at whatever ends the URL in running text. A '?' or '#'
    // does not end it here: an unencoded one in a password must not expose the rest.
    std::size_t end = text.find_first_of("/ \t\r\n'\"<>`", start);
    if (end == std::string_view::npos) end = text.size();
    auto at = text.substr(start, end - start).rfind('@');
    if (at == std::string_view::npos) continue;
    out += text.substr(done, start - done);
    out += kRedacted;
    done = start + at;  // from the '@' on
  }
  out += text.substr(done);
  return out;
}

std::string redact_url(std::string_view whole) {
  std::string without_userinfo = redact_userinfo(whole);
  std::string_view url = without_userinfo;
  auto q = url.find_first_of("?#");
  if (q == std::string_view::npos) return without_userinfo;
  std::string out(url.substr(0, q + 1));
  auto hash = url.find('#', q + 1);
  out += redact_form(url.substr(q + 1, hash == url.npos ? url.npos : hash - q - 1));
  if (hash != std::string_view::npos) {
    out += '#';
    out += redact_form(url.substr(hash + 1));
  }
  return out;
}

std::string redact_body(std::string_view body) { return redact_form(redact_json(body)); }

std::string redact_known(std::string text, const std::vector<const Secret*>& secrets) {
  for (const Secret* secret : secrets) {
    if (secret == nullptr || secret->size() < 4) continue;
    std::string_view value = secret->reveal();
    for (auto pos = text.find(value); pos != std::string::npos; pos = text.find(value, pos)) {
      text.replace(pos, value.size(), kRedacted);
      pos += kRedacted.size();
    }
  }
  return text;
}

}  // namespace devicelogin::core
