#include "core/redaction.hpp"

#include <algorithm>
#include <array>

#include "core/encoding.hpp"

namespace devicelogin::core {
namespace {
// The OAuth names whose values are credentials (RFC 6749, 7521-7523, 7636, 8628, 8693), and the
// provider-specific ones seen in the wild: WorkOS's pending_authentication_token (exchanged for
// tokens by /user_management/authenticate) and sealed_session.
constexpr std::array<std::string_view, 15> kSecretFields = {
    "device_code", "code",          "access_token",     "refresh_token", "id_token",
    "client_secret", "password",    "assertion",        "client_assertion", "subject_token",
    "actor_token",  "code_verifier", "token",           "pending_authentication_token", "sealed_session"};

// JSON members whose whole value (an object of tokens) is a credential: WorkOS's oauth_tokens
// (the upstream provider's access and refresh tokens).
constexpr std::array<std::string_view, 1> kSecretJsonObjects = {"oauth_tokens"};

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// In JSON, `code` names an error (WorkOS: "code":"organization_selection_required"), not an
// authorization code: OAuth sends that in a query or a form, where it stays redacted.
bool is_secret_json_member(std::string_view name) { return ascii_lower(name) != "code" && is_secret_field(name); }

bool is_secret_json_object(std::string_view name) {
  const std::string lower = ascii_lower(name);
  for (auto member : kSecretJsonObjects) {
    if (lower == member) return true;
  }
  return false;
}

// The end (one past) of the JSON value that starts at `i` (a string, or an object or array with
// whatever nests in it), or the end of `body` when it is cut short.
std::size_t json_value_end(std::string_view body, std::size_t i) {
  if (i >= body.size()) return body.size();
  if (body[i] == '"') {
    std::size_t end = i + 1;
    while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
    return std::min(end + 1, body.size());
  }
  if (body[i] != '{' && body[i] != '[') {
    std::size_t end = i;
    while (end < body.size() && body[end] != ',' && body[end] != '}' && body[end] != ']') ++end;
    return end;
  }
  std::size_t depth = 0;
  for (std::size_t end = i; end < body.size(); ++end) {
    const char c = body[end];
    if (c == '"') {
      end = json_value_end(body, end) - 1;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return end + 1;
    }
  }
  return body.size();
}

// The forms a secret takes when a server echoes it: as sent, percent-encoded (upper- and
// lower-case hex), and JSON-escaped ('/' as "\/", as PHP writes it). The caller wipes them.
std::vector<std::string> encodings_of(std::string_view value) {
  std::vector<std::string> forms;
  forms.reserve(4);  // never reallocated: no unwiped copy of a short (in-place) string is left behind
  forms.emplace_back(value);
  auto add = [&](std::string form) {
    if (std::find(forms.begin(), forms.end(), form) == forms.end()) {
      forms.push_back(std::move(form));
    } else {
      wipe_string(form);
    }
  };
  std::string encoded = url_encode(value);
  std::string lower_hex = encoded;
  add(std::move(encoded));
  for (std::size_t i = 0; i + 2 < lower_hex.size(); ++i) {
    if (lower_hex[i] != '%') continue;
    for (std::size_t j = i + 1; j <= i + 2; ++j) {
      if (lower_hex[j] >= 'A' && lower_hex[j] <= 'F') lower_hex[j] = static_cast<char>(lower_hex[j] - 'A' + 'a');
    }
  }
  add(std::move(lower_hex));
  std::string slashes;
  slashes.reserve(2 * value.size());  // never reallocated (url_encode reserves its worst case too)
  for (char c : value) {
    if (c == '/') slashes += '\\';
    slashes += c;
  }
  add(std::move(slashes));
  return forms;
}
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
    if (j >= body.size() || body[j] != ':') continue;
    const bool whole_object = is_secret_json_object(token);
    if (!whole_object && !is_secret_json_member(token)) continue;
    ++j;
    while (j < body.size() && is_json_space(body[j])) ++j;
    out += body.substr(i, j - i);
    i = j;
    if (whole_object && i < body.size() && (body[i] == '{' || body[i] == '[' || body[i] == '"')) {
      out += '"';
      out += kRedacted;
      out += '"';
      i = json_value_end(body, i);
    } else if (i < body.size() && body[i] == '"') {
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
    std::vector<std::string> forms = encodings_of(secret->reveal());
    for (std::string& value : forms) {
      for (auto pos = text.find(value); pos != std::string::npos; pos = text.find(value, pos)) {
        text.replace(pos, value.size(), kRedacted);
        pos += kRedacted.size();
      }
      wipe_string(value);  // the encoded forms are the secret too
    }
  }
  return text;
}

}  // namespace devicelogin::core
