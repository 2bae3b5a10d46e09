#include "http/http_trace.hpp"

#include <array>

#include "core/encoding.hpp"
#include "core/redaction.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::http {
namespace {

// Bodies longer than this are cut in the trace (after redaction of the whole body).
constexpr std::size_t kMaxTracedBody = 64 * 1024;

constexpr std::array<std::string_view, 7> kSecretHeaderWords = {
    "token", "secret", "api-key", "apikey", "session", "cookie", "password"};

// Calls `each` for every line of `text` (LF or CRLF separated), skipping empty ones.
template <class Each>
void for_each_line(std::string_view text, Each&& each) {
  while (!text.empty()) {
    auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) each(line);
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
}

// "POST /token?x=1 HTTP/1.1": the request target is a URL that may carry secrets in its query.
std::string redact_request_line(std::string_view line) {
  auto first_space = line.find(' ');
  auto last_space = line.rfind(' ');
  if (first_space == std::string_view::npos) return core::redact_url(line);
  if (last_space == first_space) last_space = line.size();
  std::string out(line.substr(0, first_space + 1));
  out += core::redact_url(line.substr(first_space + 1, last_space - first_space - 1));
  out += line.substr(last_space);
  return out;
}

}  // namespace

std::string_view trim_http_whitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}


bool is_traced_secret_header(std::string_view name) {
  if (core::is_secret_header(name)) return true;
  std::string lower = core::ascii_lower(trim_http_whitespace(name));
  for (auto word : kSecretHeaderWords) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

std::string redact_header_line(std::string_view line) {
  if (line.starts_with("HTTP/")) return std::string(line);  // status line
  auto colon = line.find(':');
  auto space = line.find(' ');
  if (colon == std::string_view::npos || (space != std::string_view::npos && space < colon)) {
    return redact_request_line(line);
  }
  std::string_view name = line.substr(0, colon);
  std::string out(name);
  out += ':';
  if (is_traced_secret_header(name)) {
    out += ' ';
    out += core::kRedacted;
    return out;
  }
  // Location, Link, Content-Location ... may hold URLs with codes in their query.
  out += core::redact_url(line.substr(colon + 1));
  return out;
}

std::string redact_info_line(std::string_view line) {
  std::string out(line);
  // Find `name:` for every secret header name, at the start of the line, after '[' or after a
  // space, and cut its value up to the closing ']' (bracketed form) or to the end of the line.
  constexpr std::array<std::string_view, 5> kNames = {"proxy-authorization", "authorization", "set-cookie",
                                                       "cookie", "dpop"};
  for (auto name : kNames) {
    std::size_t from = 0;
    while (true) {
      std::string lower = core::ascii_lower(out);
      auto pos = lower.find(std::string(name) + ":", from);
      if (pos == std::string::npos) break;
      char before = pos == 0 ? ' ' : lower[pos - 1];
      std::size_t value_start = pos + name.size() + 1;
      from = value_start;
      if (before != ' ' && before != '[' && before != '\t') continue;
      std::size_t value_end = out.size();
      if (before == '[') {
        auto close = out.rfind(']');
        if (close != std::string::npos && close >= value_start) value_end = close;
      }
      std::string replacement = " " + std::string(core::kRedacted);
      out.replace(value_start, value_end - value_start, replacement);
      from = value_start + replacement.size();
    }
  }
  return core::redact_url(out);
}

std::vector<Secret> proxy_credentials(std::string_view proxy_setting) {
  std::vector<Secret> found;
  auto scheme_end = proxy_setting.find("://");
  std::string_view rest = scheme_end == std::string_view::npos ? proxy_setting : proxy_setting.substr(scheme_end + 3);
  auto at = rest.substr(0, rest.find('/')).rfind('@');
  if (at == std::string_view::npos) return found;
  std::string_view userinfo = rest.substr(0, at);
  auto colon = userinfo.find(':');
  for (std::string_view part : {userinfo, colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1)}) {
    if (part.empty()) continue;
    found.emplace_back(std::string(part));
    std::string decoded = core::url_decode(part);
    if (decoded != part) found.emplace_back(std::move(decoded));
  }
  return found;
}

HttpTrace::HttpTrace(std::function<void(std::string_view)> sink, std::vector<Secret> known_secrets)
    : sink_(std::move(sink)), known_secrets_(std::move(known_secrets)) {}

void HttpTrace::request_headers(std::string_view block) {
  for_each_line(block, [&](std::string_view line) { emit("> ", redact_header_line(line)); });
}

void HttpTrace::response_header(std::string_view line) {
  for_each_line(line, [&](std::string_view one) { emit("< ", redact_header_line(one)); });
}

void HttpTrace::info(std::string_view text) {
  for_each_line(text, [&](std::string_view line) { emit("* ", redact_info_line(line)); });
}

void HttpTrace::body(std::string_view whole_body, bool sent) {
  std::string redacted = core::redact_body(whole_body);
  std::size_t cut = 0;
  if (redacted.size() > kMaxTracedBody) {
    cut = redacted.size() - kMaxTracedBody;
    redacted.resize(kMaxTracedBody);
  }
  const std::string_view prefix = sent ? "> " : "< ";
  for_each_line(redacted, [&](std::string_view line) { emit(prefix, std::string(line)); });
  if (cut > 0) emit(prefix, "[" + std::to_string(cut) + " more bytes not shown]");
}

void HttpTrace::note(std::string_view line) { emit("* ", std::string(line)); }

void HttpTrace::emit(std::string_view prefix, const std::string& line) const {
  if (!sink_) return;
  std::vector<const Secret*> known;
  known.reserve(known_secrets_.size());
  for (const Secret& secret : known_secrets_) known.push_back(&secret);
  std::string shown(prefix);
  shown += sanitize_text(core::redact_known(core::redact_userinfo(line), known));
  sink_(shown);
}

}  // namespace devicelogin::http
