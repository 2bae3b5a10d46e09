#include "http/http_trace.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace devicelogin {
namespace {

struct LineCase {
  const char* input;
  const char* expected;
};

TEST(HttpTrace, RedactsHeaderLines) {
  const LineCase cases[] = {
      {"POST /token HTTP/1.1", "POST /token HTTP/1.1"},
      {"GET /cb?code=abc&state=s HTTP/1.1", "GET /cb?code=[REDACTED]&state=s HTTP/1.1"},
      {"HTTP/1.1 200 OK", "HTTP/1.1 200 OK"},
      {"HTTP/2 302", "HTTP/2 302"},
      {"Authorization: Bearer abc.def", "Authorization: [REDACTED]"},
      {"authorization: Basic Zm9vOmJhcg==", "authorization: [REDACTED]"},
      {"Proxy-Authorization: Basic eA==", "Proxy-Authorization: [REDACTED]"},
      {"Cookie: a=b; c=d", "Cookie: [REDACTED]"},
      {"set-cookie: session=xyz; HttpOnly", "set-cookie: [REDACTED]"},
      {"X-Auth-Token: t0k3n", "X-Auth-Token: [REDACTED]"},
      {"X-Api-Key: k3y", "X-Api-Key: [REDACTED]"},
      {"Content-Type: application/json", "Content-Type: application/json"},
      {"Location: https://app/cb?code=SPLENDID&state=1", "Location: https://app/cb?code=[REDACTED]&state=1"},
      {"Host: 127.0.0.1:8080", "Host: 127.0.0.1:8080"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(http::redact_header_line(c.input), c.expected);
  }
}

TEST(HttpTrace, RedactsCredentialHeadersInInfoLines) {
  const LineCase cases[] = {
      // libcurl 7.88 logs HTTP/2 request headers this way, credentials included.
      {"h2h3 [authorization: Bearer abc]", "h2h3 [authorization: [REDACTED]]"},
      {"h2h3 [cookie: a=[b]]", "h2h3 [cookie: [REDACTED]]"},
      {"h2h3 [:path: /token?refresh_token=xyz]", "h2h3 [:path: /token?refresh_token=[REDACTED]"},
      {"[HTTP/2] [1] [Authorization: Bearer abc]", "[HTTP/2] [1] [Authorization: [REDACTED]]"},
      {"Authorization: Bearer abc", "Authorization: [REDACTED]"},
      {"Connected to 127.0.0.1 (127.0.0.1) port 8080 (#0)", "Connected to 127.0.0.1 (127.0.0.1) port 8080 (#0)"},
      {"x-authorization: not a credential header name", "x-authorization: not a credential header name"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(http::redact_info_line(c.input), c.expected);
  }
}

class TraceSink {
 public:
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
  std::string all() const {
    std::string joined;
    for (const auto& line : lines) joined += line + "\n";
    return joined;
  }
  std::vector<std::string> lines;
};

TEST(HttpTrace, RedactsWholeBodiesLineByLine) {
  TraceSink sink;
  http::HttpTrace trace(sink.sink(), {});
  trace.body("{\n  \"access_token\": \"AT-CANARY\",\n  \"expires_in\": 3600\n}", false);
  trace.body("grant_type=refresh_token&refresh_token=RT-CANARY&client_id=cli", true);
  ASSERT_EQ(sink.lines.size(), 5u);
  EXPECT_EQ(sink.lines[0], "< {");
  EXPECT_EQ(sink.lines[1], "<   \"access_token\": \"[REDACTED]\",");
  EXPECT_EQ(sink.lines[4], "> grant_type=refresh_token&refresh_token=[REDACTED]&client_id=cli");
  EXPECT_EQ(sink.all().find("CANARY"), std::string::npos);
}

TEST(HttpTrace, KnownSecretsAreRemovedEverywhere) {
  TraceSink sink;
  std::vector<Secret> known;
  known.emplace_back(std::string_view("KNOWN-SECRET-1"));
  http::HttpTrace trace(sink.sink(), std::move(known));
  trace.info("server echoed KNOWN-SECRET-1 in a message");
  trace.response_header("X-Echo: KNOWN-SECRET-1\r\n");
  trace.body("{\"echo\":\"KNOWN-SECRET-1\"}", false);
  EXPECT_EQ(sink.all().find("KNOWN-SECRET-1"), std::string::npos) << sink.all();
  EXPECT_EQ(sink.lines[0], "* server echoed [REDACTED] in a message");
}

TEST(HttpTrace, UrlUserinfoIsRedactedOnEveryKindOfLine) {
  TraceSink sink;
  http::HttpTrace trace(sink.sink(), {});
  // libcurl 7.88 says this when it takes the proxy from the environment.
  trace.info("Uses proxy env variable https_proxy == 'http://proxyuser:Pr0xyS3cret@127.0.0.1:9'\n");
  trace.request_headers("GET http://u:Pr0xyS3cret@h/x HTTP/1.1\r\nX-Where: ftp://a:Pr0xyS3cret@b\r\n\r\n");
  trace.response_header("Location: https://u:Pr0xyS3cret@h/cb\r\n");
  trace.body("see socks5://u:Pr0xyS3cret@h:1080", false);
  trace.note("proxy http://u:Pr0xyS3cret@h");
  EXPECT_EQ(sink.all().find("Pr0xyS3cret"), std::string::npos) << sink.all();
  EXPECT_EQ(sink.lines[0], "* Uses proxy env variable https_proxy == 'http://[REDACTED]@127.0.0.1:9'");
}

TEST(HttpTrace, ProxyCredentialsWithAndWithoutScheme) {
  auto values = [](std::string_view setting) {
    std::vector<std::string> out;
    for (const Secret& s : http::proxy_credentials(setting)) out.emplace_back(s.reveal());
    return out;
  };
  EXPECT_EQ(values("http://user:p%40ss@proxy:3128"),
            (std::vector<std::string>{"user:p%40ss", "user:p@ss", "p%40ss", "p@ss"}));
  EXPECT_EQ(values("user:pw@proxy:3128/"), (std::vector<std::string>{"user:pw", "pw"}));
  EXPECT_EQ(values("http://proxy:3128"), std::vector<std::string>{});
  EXPECT_EQ(values("http://proxy:3128/a@b"), std::vector<std::string>{});

  // A scheme-less setting quoted by libcurl is not a URL: the known credentials catch it.
  TraceSink sink;
  http::HttpTrace trace(sink.sink(), http::proxy_credentials("proxyuser:Pr0xyS3cret@127.0.0.1:9"));
  trace.info("Uses proxy env variable https_proxy == 'proxyuser:Pr0xyS3cret@127.0.0.1:9'");
  EXPECT_EQ(sink.all().find("Pr0xyS3cret"), std::string::npos) << sink.all();
}

TEST(HttpTrace, RemovesControlCharactersAndSplitsBlocks) {
  TraceSink sink;
  http::HttpTrace trace(sink.sink(), {});
  trace.request_headers("POST /token HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer zzz\r\nAccept: application/json\r\n\r\n");
  trace.response_header("X-Evil: \x1b[2Jcleared\x07\r\n");
  trace.body("line one\r\nline\x1b]0;title\x07 two", false);
  ASSERT_EQ(sink.lines.size(), 7u);
  EXPECT_EQ(sink.lines[0], "> POST /token HTTP/1.1");
  EXPECT_EQ(sink.lines[2], "> Authorization: [REDACTED]");
  EXPECT_EQ(sink.lines[4], "< X-Evil: [2Jcleared");
  EXPECT_EQ(sink.lines[5], "< line one");
  EXPECT_EQ(sink.lines[6], "< line]0;title two");
}

TEST(HttpTrace, LongBodiesAreCutAfterRedaction) {
  TraceSink sink;
  http::HttpTrace trace(sink.sink(), {});
  std::string body = "{\"access_token\":\"CANARY\",\"pad\":\"" + std::string(100'000, 'a') + "\"}";
  trace.body(body, false);
  EXPECT_EQ(sink.all().find("CANARY"), std::string::npos);
  EXPECT_NE(sink.lines.back().find("more bytes not shown"), std::string::npos);
}

}  // namespace
}  // namespace devicelogin
