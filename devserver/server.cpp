// The server's lifecycle and routing: validates the options, assembles the parts (directory,
// client authentication, faults, OAuth endpoints, approval pages), binds, routes and stops.
#include <algorithm>
#include "devicelogin/advanced/error_builders.hpp"
#include "devserver/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include <httplib.h>

#include "approval_pages.hpp"
#include "client_auth.hpp"
#include "connection.hpp"
#include "directory.hpp"
#include "dpop.hpp"
#include "faults.hpp"
#include "http_common.hpp"
#include "jose.hpp"
#include "oauth_endpoints.hpp"
#include "state.hpp"

namespace devicelogin::devserver {

namespace {

constexpr std::size_t kMaxHeaders = 64;

// IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(SystemTime t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (::gmtime_r(&seconds, &tm) == nullptr) return "Thu, 01 Jan 1970 00:00:00 GMT";  // beyond the calendar: never from a real clock
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buffer[40];
  (void)std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                      kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);  // fits: 29 bytes
  return buffer;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  std::string text(host);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

struct Server::Impl {
  ServerOptions options;
  const Clock& clock;
  EventLog log;
  std::string issuer;
  int port = 0;
  Directory directory;
  SigningKey key;
  std::unique_ptr<State> state;
  std::unique_ptr<DpopValidator> dpop;
  ClientAuth client_auth;
  Faults faults;
  // Built once the port, and so the issuer, is known; before the listener starts.
  std::optional<OAuthEndpoints> endpoints;
  std::optional<ApprovalPages> pages;
  BoundedHttpServer http;
  std::atomic<int> listen_fd{-1};
  std::thread listener;
  std::jthread sweeper;
  std::mutex sweeper_mutex;
  std::condition_variable_any sweeper_wakeup;
  std::mutex stop_mutex;
  bool stopped = false;

  // A body may take twice its limit on the wire (chunk framing) plus 16 KiB before the
  // connection loop cuts it; httplib answers 413 from Content-Length, bounded() below from the
  // decoded size.
  Impl(ServerOptions opts, const Clock& server_clock, Directory known)
      : options(std::move(opts)),
        clock(server_clock),
        log(options.log),
        directory(std::move(known)),
        client_auth(directory.clients),
        faults(options, log),
        http(options.max_header_bytes, 2 * options.max_body_bytes + 16 * 1024,
             std::chrono::milliseconds(options.max_request_ms)) {}

  // cpp-httplib 0.11 checks the body limit against Content-Length only: a chunked body reaches
  // the handlers at up to the connection loop's wire limit (twice the limit plus 16 KiB). Every
  // handler goes through this check of the decoded size first.
  template <class Handler>
  auto bounded(Handler handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      if (req.body.size() > options.max_body_bytes) {
        BoundedHttpServer::close_after_answer(res);
        const CutAnswer too_large = cut_answer_for(Overflow::kBody);
        return set_oauth_error(res, {too_large.status, "invalid_request", std::string(too_large.description), false});
      }
      handler(req, res);
    };
  }

  // The endpoints a client polls and refreshes at (device authorization, token) are the ones the
  // fault knobs act on; the rest (documents, pages, revocation) always answer.
  template <class Handler>
  auto faulty(Handler handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      if (faults.inject(res)) return;
      handler(req, res);
    };
  }

  void install_routes() {
    http.set_tcp_nodelay(true);
    const int threads = options.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    http.set_keep_alive_max_count(1'000'000);
    // Short by default, so that stop() is not held up by an idle keep-alive connection for long.
    http.set_keep_alive_timeout(options.keep_alive_seconds);
    http.set_read_timeout(5, 0);
    http.set_write_timeout(5, 0);
    http.set_payload_max_length(options.max_body_bytes);
    http.set_socket_options([this](int sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      listen_fd.store(sock);
    });
    http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (req.headers.size() > kMaxHeaders) {
        BoundedHttpServer::close_after_answer(res);  // a body, if any, is unread
        set_oauth_error(res, {431, "invalid_request", "too many header fields", false});
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      // A request cut at a byte budget (connection.hpp) reaches here as httplib's 400.
      if (Overflow cut = BoundedHttpServer::overflow(); cut != Overflow::kNone) {
        BoundedHttpServer::close_after_answer(res);
        const CutAnswer answer = cut_answer_for(cut);
        set_oauth_error(res, {answer.status, "invalid_request", std::string(answer.description), false});
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      std::string description = res.status == 413   ? "request body too large"
                                : res.status == 404 ? "no such endpoint"
                                : res.status == 405 ? "method not allowed"
                                                    : "bad request";
      set_oauth_error(res, {res.status, res.status == 404 ? "not_found" : "invalid_request", description, false});
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
      set_oauth_error(res, {500, "server_error", "internal error", false});
    });
    // RFC 9110 §6.6.1: an origin server with a clock sends Date; clients learn its time from it.
    http.set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
      res.set_header("Date", http_date(clock.now()));
    });

    // Hot paths first: httplib tries the patterns in order. Handlers take `const httplib::Request&`
    // and `httplib::Response&` (generic lambdas cannot go through bounded()).
    using Req = const httplib::Request&;
    using Res = httplib::Response&;
    http.Post("/token", bounded(faulty([this](Req req, Res res) { endpoints->token(req, res); })));
    http.Post("/device_authorization",
              bounded(faulty([this](Req req, Res res) { endpoints->device_authorization(req, res); })));
    http.Post("/revoke", bounded([this](Req req, Res res) { endpoints->revoke(req, res); }));
    http.Post("/introspect", bounded([this](Req req, Res res) { endpoints->introspect(req, res); }));
    http.Get("/userinfo", bounded([this](Req req, Res res) { endpoints->userinfo(req, res); }));
    http.Post("/userinfo", bounded([this](Req req, Res res) { endpoints->userinfo(req, res); }));
    auto discovery = [this](Req, Res res) { set_json(res, 200, endpoints->discovery_document()); };
    http.Get("/.well-known/openid-configuration", bounded(discovery));
    http.Get("/.well-known/oauth-authorization-server", bounded(discovery));
    http.Get("/jwks", bounded([this](Req, Res res) { set_json(res, 200, endpoints->jwks_document()); }));
    http.Get("/authorize", bounded([this](Req req, Res res) { pages->authorize(req, res); }));
    http.Get("/device", bounded([this](Req req, Res res) { pages->device_page(req, res); }));
    http.Post("/device", bounded([this](Req req, Res res) { pages->code_submit(req, res); }));
    http.Post("/device/signin", bounded([this](Req req, Res res) { pages->sign_in(req, res); }));
    http.Post("/device/decision", bounded([this](Req req, Res res) { pages->decision(req, res); }));
    http.Get("/device/(signin|decision)", bounded([this](Req req, Res res) { pages->post_only(req, res); }));
    http.Get("/", bounded([this](Req req, Res res) { pages->home(req, res); }));
  }

  void stop_all() {
    std::lock_guard lock(stop_mutex);
    if (stopped) return;
    stopped = true;
    http.stop();
    if (listener.joinable()) listener.join();
    if (sweeper.joinable()) {
      sweeper.request_stop();
      sweeper_wakeup.notify_all();
      sweeper.join();
    }
  }
};

namespace {

Result<void> validate(const ServerOptions& o) {
  auto bad = [](std::string message) { return fail(ErrorCode::kConfig, std::move(message)); };
  if (o.port < 0 || o.port > 65535) return bad("--port must be between 0 and 65535");
  if (o.host.empty()) return bad("--host must not be empty");
  if (!o.allow_non_loopback && !is_loopback_host(o.host)) {
    return bad("refusing to listen on non-loopback host " + o.host + " without --allow-non-loopback");
  }
  if (o.interval < 0 || o.interval > 3600) return bad("--interval must be between 0 and 3600 seconds");
  if (o.code_ttl < 1 || o.code_ttl > 86400) return bad("--code-ttl must be between 1 and 86400 seconds");
  // RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED".
  if (o.auth_code_ttl < 1 || o.auth_code_ttl > 600) return bad("--auth-code-ttl must be between 1 and 600 seconds");
  if (o.access_token_ttl < 1 || o.access_token_ttl > 31'536'000) return bad("--access-token-ttl must be between 1 second and 1 year");
  if (o.refresh_token_ttl < 1 || o.refresh_token_ttl > 31'536'000) return bad("refresh token TTL must be between 1 second and 1 year");
  if (o.auto_approve_delay && (*o.auto_approve_delay < 0 || *o.auto_approve_delay > 86400)) {
    return bad("--auto-approve delay must be between 0 and 86400 seconds");
  }
  if (o.slow_down_every < 0) return bad("--slow-down-every must not be negative");
  if (o.hang_up_polls < 0 || o.hang_up_refreshes < 0) return bad("--hang-up-polls and --hang-up-refreshes must not be negative");
  if (o.keep_alive_seconds < 1 || o.keep_alive_seconds > 60) return bad("--keep-alive must be between 1 and 60 seconds");
  for (double rate : {o.fail_rate_500, o.fail_rate_503, o.drop_rate}) {
    if (!(rate >= 0 && rate <= 1)) return bad("--fail-rate-500, --fail-rate-503 and --drop-rate must be between 0 and 1");
  }
  if (o.latency_ms < 0 || o.latency_ms > 60000) return bad("--latency-ms must be between 0 and 60000");
  if (o.max_outstanding_codes < 1 || o.max_tokens < 2) return bad("capacity limits must be positive");
  if (o.max_header_bytes < 1024 || o.max_header_bytes > 1024 * 1024) {
    return bad("the request header limit must be between 1 KiB and 1 MiB");
  }
  if (o.max_body_bytes < 1024 || o.max_body_bytes > 64 * 1024 * 1024) {
    return bad("the request body limit must be between 1 KiB and 64 MiB");
  }
  if (o.max_request_ms < 100 || o.max_request_ms > 600'000) {
    return bad("the request time limit must be between 100 ms and 10 minutes");
  }
  if (o.threads < 1 || o.threads > 1024) return bad("thread count must be between 1 and 1024");
  if (!o.issuer.empty() && !o.issuer.starts_with("http://") && !o.issuer.starts_with("https://")) {
    return bad("--issuer must be an http:// or https:// URL");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Server>> Server::start(ServerOptions options) {
  // Stateless, so one serves every server; never destroyed, so a server that outlives static
  // destruction (a global in an embedding program) still reads a live clock.
  static const SystemClock& system_clock = *new SystemClock;
  return start(std::move(options), system_clock);
}

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, const Clock& clock) {
  try {
    if (auto valid = validate(options); !valid) return std::unexpected(valid.error());
    auto directory = build_directory(options);
    if (!directory) return std::unexpected(directory.error());
    auto impl = std::make_unique<Impl>(std::move(options), clock, std::move(*directory));
    ServerOptions& o = impl->options;

    StateSettings settings;
    settings.max_codes = o.max_outstanding_codes;
    settings.max_tokens = o.max_tokens;
    settings.slow_down_every = o.slow_down_every;
    if (o.auto_approve_delay) {
      // A rule of State, checked against "now" at each poll or page visit: no timer thread.
      settings.auto_approve_after = Millis(static_cast<long long>(*o.auto_approve_delay * 1000.0));
      settings.auto_approve_user = impl->directory.first_user;
    }
    impl->state = std::make_unique<State>(settings);
    DpopSettings dpop_settings;
    dpop_settings.require_nonce = o.dpop_nonce;
    impl->dpop = std::make_unique<DpopValidator>(dpop_settings);

    auto key = SigningKey::generate();
    if (!key) return std::unexpected(key.error());
    impl->key = std::move(*key);

    // A peer that disconnects while we write must not kill an embedding process with SIGPIPE.
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      (void)signal(SIGPIPE, SIG_IGN);  // cannot fail for SIGPIPE
    }

    impl->install_routes();
    std::string host = o.host;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    int bound = o.port == 0 ? impl->http.bind_to_any_port(host) : (impl->http.bind_to_port(host, o.port) ? o.port : -1);
    if (bound <= 0) {
      return fail(ErrorCode::kNetwork, "cannot listen on " + o.host + ":" + std::to_string(o.port) +
                                           " (address in use or not available)");
    }
    impl->port = bound;
    // httplib listens with a backlog of 5; a burst of connections would see SYN retries.
    if (int fd = impl->listen_fd.load(); fd >= 0) ::listen(fd, SOMAXCONN);

    if (!o.issuer.empty()) {
      impl->issuer = o.issuer;
      while (impl->issuer.ends_with('/')) impl->issuer.pop_back();
    } else {
      bool v6 = host.find(':') != std::string::npos;
      impl->issuer = "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(bound);
    }
    OAuthEndpoints::Settings endpoint_settings{impl->issuer, o.interval, o.code_ttl, o.access_token_ttl,
                                               o.refresh_token_ttl, o.omit_expires_in};
    impl->endpoints.emplace(std::move(endpoint_settings), impl->key, *impl->state, *impl->dpop, impl->directory,
                            impl->client_auth, impl->faults, clock, impl->log);
    impl->pages.emplace(impl->issuer, *impl->state, impl->directory, clock, impl->log, o.auth_code_ttl);

    Impl* raw = impl.get();
    impl->listener = std::thread([raw] { raw->http.listen_after_bind(); });
    // stop() is a no-op until httplib marks itself running, so do not return before that.
    for (int i = 0; i < 2000 && !raw->http.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!raw->http.is_running()) {
      raw->http.stop();
      if (raw->listener.joinable()) raw->listener.join();
      return fail(ErrorCode::kNetwork, "the HTTP server did not start");
    }
    // Housekeeping: drops expired entries as of the server's clock, once a second of real time
    // (the cadence is not protocol time; every rule also checks expiry itself).
    impl->sweeper = std::jthread([raw](const std::stop_token& stop) {
      std::unique_lock lock(raw->sweeper_mutex);
      while (!stop.stop_requested()) {
        raw->sweeper_wakeup.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
        raw->state->sweep(raw->clock.now());
      }
    });
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, std::string("cannot start the server: ") + e.what());
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

std::string Server::issuer() const { return impl_->issuer; }

int Server::port() const { return impl_->port; }

std::vector<std::string> Server::usernames() const {
  std::vector<std::string> names;
  names.reserve(impl_->directory.users.size());
  for (const auto& entry : impl_->directory.users) names.push_back(entry.first);
  std::sort(names.begin(), names.end());
  return names;
}

bool Server::demo_users() const { return impl_->directory.demo_users; }

void Server::stop() {
  if (impl_) impl_->stop_all();
}

}  // namespace devicelogin::devserver
