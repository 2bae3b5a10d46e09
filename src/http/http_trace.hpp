#pragma once
// Internal: turns what libcurl's debug callback reports into trace lines with every secret
// redacted. Pure text processing (no libcurl), so it is unit-tested directly.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/secret.hpp"

namespace devicelogin::http {

// True for header names whose values must never be traced: the credential headers of
// is_secret_header plus names that say they carry a token, secret, key, session or cookie.
[[nodiscard]] bool is_traced_secret_header(std::string_view name);

// A request line, status line or `Name: value` header line with secrets redacted: credential
// header values become [REDACTED], secret query parameters in request targets and URLs too.
[[nodiscard]] std::string redact_header_line(std::string_view line);

// A libcurl informational line with secrets redacted: libcurl 7.88 logs every HTTP/2 request
// header as `h2h3 [name: value]` (newer versions `[HTTP/2] [1] [name: value]`), credentials included.
[[nodiscard]] std::string redact_info_line(std::string_view line);

// The credentials a proxy setting such as `http://user:password@host:3128` (or without a
// scheme: `user:password@host`) carries, raw and percent-decoded, to be removed from a trace
// wherever they show; none when it has no userinfo.
[[nodiscard]] std::vector<Secret> proxy_credentials(std::string_view proxy_setting);

// Emits trace lines to a sink: each line redacted (URL userinfo included), then stripped of known secret values, then of
// control characters. Prefixes follow curl -v: "> " sent, "< " received, "* " information.
class HttpTrace {
 public:
  HttpTrace(std::function<void(std::string_view)> sink, std::vector<Secret> known_secrets);

  // A block of request header lines (request line first), as libcurl sends it.
  void request_headers(std::string_view block);
  // One response header line (status line or header).
  void response_header(std::string_view line);
  // libcurl informational text (one or more lines).
  void info(std::string_view text);
  // A whole body, redacted as one piece (so a secret split across network chunks is still
  // found), then shown line by line; `sent` picks the prefix.
  void body(std::string_view whole_body, bool sent);
  // A line of our own (for example why a body is not shown).
  void note(std::string_view line);

 private:
  void emit(std::string_view prefix, const std::string& line) const;

  std::function<void(std::string_view)> sink_;
  std::vector<Secret> known_secrets_;
};

// Strips spaces and tabs at both ends and CR/LF at the end (header lines and values).
[[nodiscard]] std::string_view trim_http_whitespace(std::string_view text);

}  // namespace devicelogin::http
