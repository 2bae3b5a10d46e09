#pragma once
// What every devserver handler shares: the form body, JSON and OAuth error answers, HTML page
// answers, and the event log.
#include <expected>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include <httplib.h>

#include "core/encoding.hpp"

namespace devicelogin::devserver {

// An OAuth error answer (RFC 6749 §5.2): status, `error`, `error_description`, and whether to
// challenge for HTTP Basic (RFC 6749 §5.2: 401 invalid_client after Basic authentication).
struct OAuthFailure {
  int status = 400;
  std::string error;
  std::string description;
  bool basic_challenge = false;
};
template <class T>
using OAuthResult = std::expected<T, OAuthFailure>;

// The failure as an unexpected OAuthResult.
[[nodiscard]] inline std::unexpected<OAuthFailure> oauth_fail(int status, std::string error,
                                                              std::string description,
                                                              bool basic_challenge = false) {
  return std::unexpected(OAuthFailure{status, std::move(error), std::move(description), basic_challenge});
}

// The parameters of a form body (RFC 6749 §3.2: the token endpoint takes form bodies); wiped on
// destruction, since they carry codes, tokens and passwords.
class Form {
 public:
  explicit Form(std::string_view body);
  ~Form();
  Form(const Form&) = delete;
  Form& operator=(const Form&) = delete;

  // The value of `name`, empty when absent.
  [[nodiscard]] std::string_view get(std::string_view name) const;
  // True when `name` is present, even with an empty value.
  [[nodiscard]] bool has(std::string_view name) const;
  // RFC 6749 §3.1: parameters must not be included more than once; true when one is.
  [[nodiscard]] bool has_repeated_parameter() const;

 private:
  core::FormFields fields_;
};

// True when the request declares an application/x-www-form-urlencoded body.
[[nodiscard]] bool is_form_body(const httplib::Request& req);

// Answers `body` as uncacheable JSON with `status`.
void set_json(httplib::Response& res, int status, const std::string& body);
// Answers the OAuth error as JSON (RFC 6749 §5.2), with a Basic challenge when it asks for one.
void set_oauth_error(httplib::Response& res, const OAuthFailure& failure);
// Answers an approval page: uncacheable HTML that no frame may show, under a no-script CSP.
void set_page(httplib::Response& res, int status, const std::string& html);
// As above, for a page whose form may end in a redirect to `redirect_origin` (a client's loopback
// redirect URI's origin): CSP form-action covers the redirects a form post is answered with.
void set_page(httplib::Response& res, int status, const std::string& html, std::string_view redirect_origin);

// The server's event log: one line per notable event, never a secret. A no-op without a sink.
class EventLog {
 public:
  EventLog() = default;
  explicit EventLog(std::function<void(std::string_view)> sink) : sink_(std::move(sink)) {}
  // True when lines go somewhere (so callers can skip building them).
  [[nodiscard]] bool enabled() const { return static_cast<bool>(sink_); }
  // Writes one line when there is a sink.
  void operator()(const std::string& line) const {
    if (sink_) sink_(line);
  }

 private:
  std::function<void(std::string_view)> sink_;
};

}  // namespace devicelogin::devserver
