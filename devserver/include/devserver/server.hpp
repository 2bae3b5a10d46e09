#pragma once
// The development authorization server: RFC 8628 device flow, the authorization code grant with
// PKCE on loopback redirects (RFC 6749 §4.1, RFC 7636, RFC 8252), refresh with rotation,
// revocation, introspection, userinfo and JWKS, plus the browser sign-in and approval pages.
// Embeddable and stoppable.
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devicelogin/clock.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"

namespace devicelogin::devserver {

// A client the server knows. Public when `client_secret` is empty, confidential otherwise.
struct ClientSpec {
  std::string client_id;
  Secret client_secret;
  std::string name;                 // shown on the approval page; the client_id when empty
  std::vector<std::string> scopes;  // the scopes it may ask for; empty allows any scope
  // Loopback redirect URIs for the authorization code grant (RFC 8252 §7.3):
  // http://127.0.0.1/PATH or http://[::1]/PATH; a request may use any port with them. Empty: the
  // client cannot use the authorization endpoint.
  std::vector<std::string> redirect_uris;
};

// A demo user who can sign in on the approval page.
struct UserSpec {
  std::string username;
  Secret password;
  std::string name;  // display name; the username when empty
};

// The client every server knows: public, any scope, with the redirect URIs below.
inline constexpr std::string_view kDemoClientId = "devicelogin-demo";
// The built-in demo client's redirect URIs: a CLI's loopback listener on either address family.
inline constexpr std::string_view kDemoRedirectUris[] = {"http://127.0.0.1/callback", "http://[::1]/callback"};

// How the server listens, what it knows, and which faults it injects.
struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                     // 0 picks an ephemeral port
  bool allow_non_loopback = false;  // a host outside 127.0.0.0/8, ::1, localhost needs this
  std::string issuer;               // public base URL; empty means http://HOST:PORT

  long long interval = 5;            // seconds between polls a client must respect (0: any rate)
  long long code_ttl = 600;          // device code lifetime, seconds
  long long auth_code_ttl = 60;      // authorization code lifetime, seconds (RFC 6749 §4.1.2: short)
  long long access_token_ttl = 3600;
  long long refresh_token_ttl = 86400;
  // Token responses carry no expires_in, as WorkOS's: the access token's JWT `exp` is the only
  // word on its lifetime.
  bool omit_expires_in = false;
  std::optional<double> auto_approve_delay;  // approve every code after this many seconds
  // RFC 9449 §8-9: DPoP proofs must carry a nonce the server chose (rotated every 5 minutes);
  // without one the answer is use_dpop_nonce with a DPoP-Nonce header.
  bool dpop_nonce = false;

  int slow_down_every = 0;    // answer every Nth poll of a device code with slow_down (0: never)
  double fail_rate_500 = 0;   // fraction of device/token requests answered 500
  double fail_rate_503 = 0;   // fraction of device/token requests answered 503
  int latency_ms = 0;         // delay added to every device/token request
  double drop_rate = 0;       // fraction of device/token requests whose connection is closed unanswered
  // The first N device-code polls / refresh_token grants the server receives are read whole, then
  // their connection is closed without an answer (logged): deterministic, for re-send tests.
  int hang_up_polls = 0;
  int hang_up_refreshes = 0;

  std::string config_file;         // JSON: {"clients":[...], "users":[...]}; empty for none
  std::vector<ClientSpec> clients;  // added to the built-in demo client (and the config file's)
  std::vector<UserSpec> users;      // replace alice/bob when non-empty (the config file's win)

  std::size_t max_outstanding_codes = 10000;  // device codes alive at once; more get 503
  std::size_t max_tokens = 200000;            // access + refresh tokens alive at once
  std::size_t max_body_bytes = 64 * 1024;     // larger request bodies get 413
  std::size_t max_header_bytes = 16 * 1024;   // request line + header fields; more get 431
  int max_request_ms = 10'000;                 // a request still arriving after this (+ one 5 s read) gets 408
  int threads = 64;                           // one keep-alive connection per thread
  int keep_alive_seconds = 1;                 // an idle connection is closed after this

  // Receives one line per notable event (code issued, approved, tokens issued, reuse detected);
  // never a secret. Called from server threads.
  std::function<void(std::string_view line)> log;
};

// A running server. Serves on background threads until stop() or destruction.
class Server {
 public:
  // Validates the options, reads the config file, generates the ES256 signing key, binds the
  // socket and starts serving. kConfig for bad options or config, kNetwork when the bind fails.
  // Protocol time comes from the system clock.
  [[nodiscard]] static Result<std::unique_ptr<Server>> start(ServerOptions options);
  // As above, with every "now" of the protocol read from `clock`, which must outlive the server
  // and may be called from any server thread: code expiry and poll spacing, the auto-approval
  // delay, approval-page sessions and rate limits, token iat/exp and lifetimes, the Date header.
  // (Connection deadlines and the latency fault are real time: they bound and delay real I/O.)
  [[nodiscard]] static Result<std::unique_ptr<Server>> start(ServerOptions options, const Clock& clock);

  // The issuer URL, e.g. http://127.0.0.1:43123 (no trailing slash).
  [[nodiscard]] std::string issuer() const;
  // The port actually bound.
  [[nodiscard]] int port() const;
  // The usernames the approval page accepts, sorted (alice and bob when nobody declared a user).
  [[nodiscard]] std::vector<std::string> usernames() const;
  // True when the users are the built-in alice/alice and bob/bob (nobody declared a user).
  [[nodiscard]] bool demo_users() const;
  // Stops accepting, finishes in-flight requests and joins every thread; idempotent.
  void stop();
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True for 127.0.0.0/8, ::1 and "localhost".
[[nodiscard]] bool is_loopback_host(std::string_view host);

}  // namespace devicelogin::devserver
