// The C ABI (include/devicelogin/devicelogin.h) over the public facade devicelogin::Session. This
// module uses the public headers only. Every entry point catches everything: no C++ exception or
// type crosses the boundary; an unexpected exception becomes DL_OTHER with a message.
#include "devicelogin/devicelogin.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "devicelogin/clock.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"
#include "devicelogin/session.hpp"

#ifndef DEVICELOGIN_VERSION
#error "DEVICELOGIN_VERSION must be defined by the build"
#endif

struct dl_error {
  int status = DL_OTHER;
  devicelogin::Error error;
};

struct dl_response {
  devicelogin::HttpResponse response;
  std::string body;  // a NUL-terminated copy for dl_response_body, wiped on free
  ~dl_response() { devicelogin::wipe_string(body); }
};

struct dl_status {
  devicelogin::SessionStatus status;
  std::string scratch;  // the last numeric field rendered by dl_status_get
};

namespace {

// The system clock whose sleeps a cancel call interrupts (a condition variable it signals): one
// per session, so cancelling one login leaves the others and the process-wide request_stop alone.
class CancellableClock final : public devicelogin::Clock {
 public:
  [[nodiscard]] devicelogin::SystemTime now() const override { return std::chrono::system_clock::now(); }
  bool sleep_until(devicelogin::SystemTime deadline) override {
    std::unique_lock lock(mutex_);
    return !cancelled_.wait_until(lock, deadline, [this] { return cancel_requested_; }) && !cancel_requested_;
  }
  void cancel() {
    {
      std::lock_guard lock(mutex_);
      cancel_requested_ = true;
    }
    cancelled_.notify_all();
  }
  void reset() {
    std::lock_guard lock(mutex_);
    cancel_requested_ = false;
  }
  [[nodiscard]] bool cancel_requested() {
    std::lock_guard lock(mutex_);
    return cancel_requested_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cancelled_;
  bool cancel_requested_ = false;
};

}  // namespace

struct dl_session {
  std::shared_ptr<CancellableClock> clock;
  std::optional<devicelogin::Session> session;
  devicelogin::LoginSettings settings;
  // The code the running (or last) login showed, for dl_session_code_info; scratch holds its
  // last numeric field as text.
  std::optional<devicelogin::DeviceCodePrompt> prompt;
  std::string prompt_scratch;
  // The browser flow's callback for the next logins (dl_session_set_browser_callback).
  dl_browser_callback on_browser = nullptr;
  void* on_browser_data = nullptr;
};

namespace {

int set_error(dl_error** err, devicelogin::Error error) {
  int status = devicelogin::exit_code_for(error.code);
  if (err != nullptr) {
    auto* handle = new (std::nothrow) dl_error;
    if (handle != nullptr) {
      handle->status = status;
      handle->error = std::move(error);
    }
    *err = handle;
  }
  return status;
}

int usage(dl_error** err, std::string message) {
  return set_error(err, devicelogin::Error(devicelogin::ErrorCode::kUsage, std::move(message)));
}

// Runs `body` with every exception caught: DL_OTHER with a message naming what happened.
template <class F>
int guarded(dl_error** err, F&& body) noexcept {
  try {
    if (err != nullptr) *err = nullptr;
    return body();
  } catch (const std::bad_alloc&) {
    return set_error(err, devicelogin::Error(devicelogin::ErrorCode::kInternal, "out of memory"));
  } catch (const std::exception& e) {
    return set_error(err, devicelogin::Error(devicelogin::ErrorCode::kInternal,
                                             std::string("internal error: ") + e.what()));
  } catch (...) {
    return set_error(err, devicelogin::Error(devicelogin::ErrorCode::kInternal, "internal error"));
  }
}

// A secret buffer: the length is kept before the bytes so that dl_secret_free can wipe them all.
char* allocate_secret(std::string_view value) {
  auto* block = static_cast<unsigned char*>(std::malloc(sizeof(std::size_t) + value.size() + 1));
  if (block == nullptr) throw std::bad_alloc();
  std::size_t size = value.size();
  std::memcpy(block, &size, sizeof size);
  char* bytes = reinterpret_cast<char*>(block + sizeof size);
  std::memcpy(bytes, value.data(), size);
  bytes[size] = '\0';
  return bytes;
}

const char* text(const char* value) { return value == nullptr ? "" : value; }

}  // namespace

extern "C" {

const char* dl_version(void) { return DEVICELOGIN_VERSION; }

int dl_error_status(const dl_error* error) { return error == nullptr ? DL_OK : error->status; }
const char* dl_error_kind(const dl_error* error) {
  return error == nullptr ? "" : devicelogin::error_code_name(error->error.code);
}
const char* dl_error_message(const dl_error* error) { return error == nullptr ? "" : error->error.message.c_str(); }
const char* dl_error_oauth_error(const dl_error* error) {
  return error == nullptr ? "" : error->error.oauth_error.c_str();
}
int dl_error_http_status(const dl_error* error) { return error == nullptr ? 0 : error->error.http_status; }
const char* dl_error_remedy(const dl_error* error) {
  return devicelogin::remedy_name(error == nullptr ? devicelogin::Remedy::kNone : error->error.remedy);
}
const char* dl_error_profile(const dl_error* error) { return error == nullptr ? "" : error->error.profile.c_str(); }
const char* dl_error_setting(const dl_error* error) { return error == nullptr ? "" : error->error.setting.c_str(); }
void dl_error_free(dl_error* error) { delete error; }

void dl_secret_free(char* secret) {
  if (secret == nullptr) return;
  auto* block = reinterpret_cast<unsigned char*>(secret) - sizeof(std::size_t);
  std::size_t size = 0;
  std::memcpy(&size, block, sizeof size);
  // Volatile stores so that the wipe of memory about to be freed is not optimised away.
  volatile unsigned char* bytes = reinterpret_cast<unsigned char*>(secret);
  for (std::size_t i = 0; i < size + 1; ++i) bytes[i] = 0;
  std::free(block);
}

int dl_session_open(const char* name, const char* profile_directory, dl_session** out, dl_error** err) {
  return guarded(err, [&] {
    if (out == nullptr) return usage(err, "dl_session_open: the output handle is NULL");
    *out = nullptr;
    if (name == nullptr) return usage(err, "dl_session_open: the profile name is NULL");
    auto handle = std::make_unique<dl_session>();
    handle->clock = std::make_shared<CancellableClock>();
    devicelogin::SessionOptions options;
    options.clock = handle->clock;
    // The audit trail names the C ABI and, by its executable, the program (or the Python
    // interpreter) that called it.
    options.audit_consumer = "capi";
    if (profile_directory != nullptr) options.profile_directory = profile_directory;
    auto session = devicelogin::Session::open(name, std::move(options));
    if (!session) return set_error(err, std::move(session.error()));
    handle->session.emplace(std::move(*session));
    handle->settings.profile = name;
    *out = handle.release();
    return DL_OK;
  });
}

void dl_session_close(dl_session* session) {
  try {
    delete session;
  } catch (...) {  // NOLINT(bugprone-empty-catch): no exception may cross the C ABI, and a void call has nothing to report to
  }
}

int dl_session_set(dl_session* session, const char* key, const char* value, dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr || key == nullptr) return usage(err, "dl_session_set: the session or the key is NULL");
    std::string k = key;
    auto& s = session->settings;
    if (k == "api_url") {
      // Repeatable: each value adds one API base URL (the token's only destinations besides the
      // userinfo endpoint); NULL or "" clears them.
      if (value == nullptr || *value == '\0') {
        s.api_urls.clear();
      } else {
        s.api_urls.emplace_back(value);
      }
      return DL_OK;
    }
    if (k == "dpop") {
      // "1" binds the tokens to a key (DPoP), "0" does not; NULL or "": as the saved profile says.
      const std::string v = text(value);
      if (v.empty()) {
        s.dpop.reset();
      } else if (v == "1" || v == "0") {
        s.dpop = v == "1";
      } else {
        return usage(err, "the login setting dpop is \"1\" or \"0\"");
      }
      return DL_OK;
    }
    if (k == "flow") {
      // "auto", "device" or "browser"; NULL or "" goes back to the saved profile's.
      if (value == nullptr || *value == '\0') {
        s.flow.reset();
        return DL_OK;
      }
      auto flow = devicelogin::parse_login_flow(value);
      if (!flow) return usage(err, "the login setting flow is auto, device or browser, not \"" + std::string(value).substr(0, 32) + "\"");
      s.flow = *flow;
      return DL_OK;
    }
    if (k == "browser_timeout") {
      // Seconds, 1 to 86400; NULL or "" is the default (300).
      if (value == nullptr || *value == '\0') {
        s.browser_timeout_s = 300;
        return DL_OK;
      }
      const std::string digits = value;
      if (digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string::npos || std::stoll(digits) < 1 ||
          std::stoll(digits) > 86400) {
        return usage(err, "the login setting browser_timeout is a number of seconds from 1 to 86400");
      }
      s.browser_timeout_s = std::stoll(digits);
      return DL_OK;
    }
    std::string* field = k == "provider"             ? &s.provider
                         : k == "issuer"             ? &s.issuer
                         : k == "tenant"             ? &s.tenant
                         : k == "client_id"          ? &s.client_id
                         : k == "scope"              ? &s.scope
                         : k == "audience"           ? &s.audience
                         : k == "store"              ? &s.store
                         : k == "ca_file"            ? &s.ca_file
                         : k == "client_secret_file" ? &s.client_secret_file
                         : k == "client_secret_env"  ? &s.client_secret_env
                                                     : nullptr;
    if (field == nullptr) return usage(err, "unknown login setting: " + k);
    *field = text(value);
    return DL_OK;
  });
}

int dl_session_login(dl_session* session, dl_code_callback on_code, dl_wait_callback on_wait, void* user_data,
                     dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr) return usage(err, "dl_session_login: the session is NULL");
    session->clock->reset();
    session->prompt.reset();
    devicelogin::LoginObserver observer;
    observer.on_code = [&](const devicelogin::DeviceCodePrompt& prompt) {
      // Kept first, so that on_code can read every field with dl_session_code_info.
      session->prompt = prompt;
      if (on_code != nullptr) {
        on_code(user_data, prompt.user_code.c_str(), prompt.verification_uri.c_str(),
                prompt.verification_uri_complete.c_str(), prompt.expires_in);
      }
    };
    if (on_wait != nullptr) observer.on_waiting = [&](long long seconds_left) { on_wait(user_data, seconds_left); };
    if (session->on_browser != nullptr) {
      observer.on_browser = [&](const devicelogin::BrowserPrompt& prompt) {
        session->on_browser(session->on_browser_data, prompt.authorization_url.c_str(), prompt.redirect_uri.c_str(),
                            prompt.expires_in);
      };
    }
    auto result = session->session->login(session->settings, observer);
    if (!result) return set_error(err, std::move(result.error()));
    return DL_OK;
  });
}

const char* dl_session_code_info(const dl_session* session, const char* field) {
  if (session == nullptr || field == nullptr || !session->prompt) return nullptr;
  try {
    auto* handle = const_cast<dl_session*>(session);  // prompt_scratch is the handle's own buffer
    const devicelogin::DeviceCodePrompt& p = *session->prompt;
    const std::string_view f = field;
    auto number = [&](long long value) {
      handle->prompt_scratch = std::to_string(value);
      return handle->prompt_scratch.c_str();
    };
    if (f == "user_code") return p.user_code.c_str();
    if (f == "verification_uri") return p.verification_uri.c_str();
    if (f == "verification_uri_complete") return p.verification_uri_complete.c_str();
    if (f == "verification_host") return p.verification_host.c_str();
    if (f == "host_warning") return p.host_warning.c_str();
    if (f == "message") return p.message.c_str();
    if (f == "expires_in") return number(p.expires_in);
    if (f == "interval") return number(p.interval);
  } catch (...) {  // NOLINT(bugprone-empty-catch): no exception may cross the C ABI; a field that cannot be read is NULL, as documented
  }
  return nullptr;
}

int dl_session_set_browser_callback(dl_session* session, dl_browser_callback on_browser, void* user_data,
                                    dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr) return usage(err, "dl_session_set_browser_callback: the session is NULL");
    session->on_browser = on_browser;
    session->on_browser_data = user_data;
    return DL_OK;
  });
}

void dl_session_cancel(dl_session* session) {
  try {
    if (session != nullptr) session->clock->cancel();
  } catch (...) {  // NOLINT(bugprone-empty-catch): std::mutex::lock can throw std::system_error; it may not cross the C ABI, and a void call has nothing to report to
  }
}

int dl_session_token(dl_session* session, long long min_ttl, char** token, size_t* length, dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr || token == nullptr) return usage(err, "dl_session_token: the session or the output is NULL");
    *token = nullptr;
    auto secret = session->session->access_token(min_ttl);
    if (!secret) return set_error(err, std::move(secret.error()));
    *token = allocate_secret(secret->reveal());
    if (length != nullptr) *length = secret->size();
    return DL_OK;
  });
}

int dl_session_authorization(dl_session* session, long long min_ttl, char** authorization, size_t* length,
                             dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr || authorization == nullptr) {
      return usage(err, "dl_session_authorization: the session or the output is NULL");
    }
    *authorization = nullptr;
    auto token = session->session->access_token(min_ttl);
    if (!token) return set_error(err, std::move(token.error()));
    const devicelogin::Secret header = token->authorization();
    *authorization = allocate_secret(header.reveal());
    if (length != nullptr) *length = header.size();
    return DL_OK;
  });
}

int dl_session_request_credentials(dl_session* session, const char* method, const char* url, long long min_ttl,
                                   char** authorization, char** dpop_proof, dl_error** err) {
  return guarded(err, [&] {
    if (authorization != nullptr) *authorization = nullptr;
    if (dpop_proof != nullptr) *dpop_proof = nullptr;
    if (session == nullptr || method == nullptr || url == nullptr || authorization == nullptr || dpop_proof == nullptr) {
      return usage(err, "dl_session_request_credentials: the session, the method, the URL or an output is NULL");
    }
    auto credentials = session->session->request_credentials(method, url, min_ttl);
    if (!credentials) return set_error(err, std::move(credentials.error()));
    *authorization = allocate_secret(credentials->authorization.reveal());
    if (!credentials->dpop_proof.empty()) {
      try {
        *dpop_proof = allocate_secret(credentials->dpop_proof.reveal());
      } catch (...) {
        dl_secret_free(*authorization);
        *authorization = nullptr;
        throw;
      }
    }
    return DL_OK;
  });
}

int dl_session_learn_from_response(dl_session* session, const char* url, int http_status, const char* const* headers,
                                   int* retry, dl_error** err) {
  return guarded(err, [&] {
    if (retry != nullptr) *retry = 0;
    if (session == nullptr || url == nullptr) {
      return usage(err, "dl_session_learn_from_response: the session or the URL is NULL");
    }
    devicelogin::HttpResponse response;
    response.status = http_status;
    for (const char* const* h = headers; h != nullptr && *h != nullptr; ++h) {
      const std::string_view line = *h;
      const auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return usage(err, "a response header has no \"Name: value\" form");
      }
      std::string name(line.substr(0, colon));
      for (auto& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      response.headers.emplace_back(std::move(name), std::string(value));
    }
    auto learned = session->session->learn_from_response(url, response);
    if (!learned) return set_error(err, std::move(learned.error()));
    if (retry != nullptr) *retry = *learned ? 1 : 0;
    return DL_OK;
  });
}

int dl_session_check_url(dl_session* session, const char* url, dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr || url == nullptr) return usage(err, "dl_session_check_url: the session or the URL is NULL");
    auto allowed = session->session->check_token_destination(url);
    if (!allowed) return set_error(err, std::move(allowed.error()));
    return DL_OK;
  });
}

int dl_session_refresh(dl_session* session, dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr) return usage(err, "dl_session_refresh: the session is NULL");
    auto result = session->session->refresh();
    if (!result) return set_error(err, std::move(result.error()));
    return DL_OK;
  });
}

int dl_session_logout(dl_session* session, int* revoked, dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr) return usage(err, "dl_session_logout: the session is NULL");
    auto result = session->session->logout();
    if (!result) return set_error(err, std::move(result.error()));
    if (revoked != nullptr) *revoked = result->revoked ? 1 : 0;
    return DL_OK;
  });
}

int dl_session_forget(dl_session* session, dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr) return usage(err, "dl_session_forget: the session is NULL");
    auto result = session->session->forget();
    if (!result) return set_error(err, std::move(result.error()));
    return DL_OK;
  });
}

int dl_session_request(dl_session* session, const char* method, const char* url, const char* const* headers,
                       const char* body, size_t body_length, long long min_ttl, dl_response** response,
                       dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr || url == nullptr || response == nullptr) {
      return usage(err, "dl_session_request: the session, the URL or the output is NULL");
    }
    *response = nullptr;
    devicelogin::HttpRequest request;
    request.method = method == nullptr ? "GET" : method;
    request.url = url;
    for (const char* const* h = headers; h != nullptr && *h != nullptr; ++h) {
      std::string line = *h;
      auto colon = line.find(':');
      if (colon == std::string::npos || colon == 0) return usage(err, "a request header has no \"Name: value\" form");
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      request.headers.emplace_back(line.substr(0, colon), std::move(value));
    }
    if (body != nullptr) request.body = devicelogin::Secret(std::string_view(body, body_length));
    auto result = session->session->fetch(std::move(request), min_ttl);
    if (!result) return set_error(err, std::move(result.error()));
    auto handle = std::make_unique<dl_response>();
    handle->body = std::string(result->body.reveal());
    handle->response = std::move(*result);
    *response = handle.release();
    return DL_OK;
  });
}

int dl_response_status(const dl_response* response) { return response == nullptr ? 0 : response->response.status; }

const char* dl_response_header(const dl_response* response, const char* name) {
  if (response == nullptr || name == nullptr) return nullptr;
  std::string lower = name;
  for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  for (const auto& [key, value] : response->response.headers) {
    if (key == lower) return value.c_str();
  }
  return nullptr;
}

const char* dl_response_body(const dl_response* response, size_t* length) {
  if (response == nullptr) return nullptr;
  if (length != nullptr) *length = response->body.size();
  return response->body.c_str();
}

void dl_response_free(dl_response* response) { delete response; }

int dl_session_status(dl_session* session, dl_status** status, dl_error** err) {
  return guarded(err, [&] {
    if (session == nullptr || status == nullptr) return usage(err, "dl_session_status: the session or the output is NULL");
    *status = nullptr;
    auto result = session->session->status();
    if (!result) return set_error(err, std::move(result.error()));
    auto handle = std::make_unique<dl_status>();
    handle->status = std::move(*result);
    *status = handle.release();
    return DL_OK;
  });
}

int dl_status_logged_in(const dl_status* status) { return status != nullptr && status->status.logged_in() ? 1 : 0; }

const char* dl_status_get(const dl_status* status, const char* field) {
  if (status == nullptr || field == nullptr) return nullptr;
  try {
    auto* st = const_cast<dl_status*>(status);  // scratch is the handle's own buffer
    const auto& s = status->status;
    std::string f = field;
    auto number = [&](std::optional<long long> value) -> const char* {
      if (!value) return nullptr;
      st->scratch = std::to_string(*value);
      return st->scratch.c_str();
    };
    if (f == "profile") return s.profile.c_str();
    if (f == "issuer") return s.issuer.c_str();
    if (f == "client_id") return s.client_id.c_str();
    if (f == "store") return s.store.c_str();
    if (f == "store_location") return s.store_location.c_str();
    if (f == "relogin_required") return s.relogin_required ? "1" : "0";
    if (f == "relogin_reason") return s.relogin_reason.c_str();
    if (f == "clock_offset_s") return number(s.clock_offset_s);
    if (!s.tokens) return nullptr;
    if (f == "token_type") return s.tokens->token_type.c_str();
    if (f == "scope") return s.tokens->scope.c_str();
    if (f == "subject") return s.tokens->subject.c_str();
    if (f == "expires_at") return number(s.tokens->expires_at);
    if (f == "has_refresh_token") return s.tokens->has_refresh_token ? "1" : "0";
    if (f == "jkt") return s.tokens->jkt.empty() ? nullptr : s.tokens->jkt.c_str();
  } catch (...) {  // NOLINT(bugprone-empty-catch): no exception may cross the C ABI; a field that cannot be read is NULL, as documented
  }
  return nullptr;
}

void dl_status_free(dl_status* status) { delete status; }

}  // extern "C"
