// The dev server's HTTP connection loop: cpp-httplib's, with a byte budget per request.
//
// cpp-httplib 0.11 (Debian 12) reads a request line, its header fields and a chunked request body
// into memory with no total limit: one connection that keeps sending header lines, one endless
// line, or endless chunks grows the process by as much as it sends (measured before this class:
// 1 GiB of RSS from a single connection in 20 s; a chunked body was buffered whole, 300 MB, before
// the 413). BoundedHttpServer replaces httplib's per-connection loop, through the virtual
// process_and_close_socket hook that httplib's own SSLServer overrides, with one that reads through
// a stream counting each request's bytes: at most max_head_bytes up to and including the blank
// line that ends the header section, at most max_body_wire_bytes after it, and no read that would
// wait once request_time has passed since the request began (each read may still wait for the
// socket's read timeout, so a request takes at most request_time plus that timeout; without this
// a client sending a byte every few seconds would hold one of the pool's threads for hours).
// Past a limit, every further read fails: httplib answers 400, the error handler turns that into
// 431, 413 or 408 (see overflow()), and the connection is closed. Writes fail once a request has
// taken twice request_time, so a client reading its answers slowly is bounded too. httplib still
// parses, routes and writes. cpp-httplib 0.11 checks the body limit only against Content-Length;
// the server checks the decoded size of chunked bodies itself (server.cpp).
//
// The stream also keeps one read buffer per connection (httplib's lives for one request, so a
// pipelined request that arrived with the previous one was lost), reads with SO_RCVTIMEO and
// SO_SNDTIMEO instead of a poll before every recv and send, and looks up the peer's and its own
// address once per connection instead of twice per request.
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

#include <httplib.h>

namespace devicelogin::devserver {

// Why the request the current server thread is reading was cut short: head too large, body too
// large, too slow.
enum class Overflow { kNone, kHead, kBody, kTime };

// How a cut request is answered: 431, 413 or 408, the reason phrase, and the error_description.
struct CutAnswer {
  int status = 0;
  std::string_view reason;
  std::string_view description;
};
[[nodiscard]] CutAnswer cut_answer_for(Overflow cut);

class BoundedHttpServer : public httplib::Server {
 public:
  BoundedHttpServer(std::size_t max_head_bytes, std::size_t max_body_wire_bytes,
                    std::chrono::milliseconds request_time);

  // On a server thread, inside a handler (or the error handler): whether the request being
  // answered was cut at a budget, and which.
  [[nodiscard]] static Overflow overflow();

  // On a server thread, inside a handler (or the pre-routing or error handler): marks `res`
  // "Connection: close" and closes the connection after it instead of reading another request
  // from it. (cpp-httplib 0.11 ignores that header for its own loop, and would read an unread
  // body as the next request.)
  static void close_after_answer(httplib::Response& res);

  // On a server thread, inside a handler: shuts the connection carrying the request down, so
  // the client sees it closed without an answer (the drop fault).
  static void drop_current_connection();

 private:
  bool process_and_close_socket(socket_t sock) override;

  std::size_t max_head_bytes_;
  std::size_t max_body_wire_bytes_;
  std::chrono::milliseconds request_time_;
};

}  // namespace devicelogin::devserver
