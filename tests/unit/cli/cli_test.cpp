// Unit tests of the CLI plugin's own code, in process: argument parsing through
// devicelogin_cli_main (exit code, one-line stderr), output formatting (report_error, emit_json,
// describe_expiry, string_or_null) and the mapping of errors to the README's exit codes.
// Every run uses a temporary HOME and touches no network: the cases fail before any request.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/result.hpp"
#include "devicelogin/secret.hpp"
#include "memlock_refusal.hpp"
#include "devicelogin/token_set.hpp"
#include "output.hpp"

extern "C" int devicelogin_cli_main(int argc, char** argv);

namespace devicelogin::cli {
namespace {

using nlohmann::json;

// Redirects file descriptor `fd` (1 or 2) into a temporary file until text() is called.
class CapturedFd {
 public:
  explicit CapturedFd(int fd) : fd_(fd) {
    std::fflush(nullptr);
    std::cout.flush();
    file_ = std::tmpfile();
    saved_ = ::dup(fd_);
    if (file_ != nullptr && saved_ >= 0) ::dup2(::fileno(file_), fd_);
  }
  ~CapturedFd() { (void)text(); }
  CapturedFd(const CapturedFd&) = delete;
  CapturedFd& operator=(const CapturedFd&) = delete;

  // Restores the descriptor (once) and returns everything written to it meanwhile.
  std::string text() {
    if (saved_ >= 0) {
      std::fflush(nullptr);
      std::cout.flush();
      std::cerr.flush();
      ::dup2(saved_, fd_);
      ::close(saved_);
      saved_ = -1;
      if (file_ != nullptr) {
        std::rewind(file_);
        char buffer[4096];
        std::size_t n = 0;
        while ((n = std::fread(buffer, 1, sizeof buffer, file_)) > 0) text_.append(buffer, n);
        std::fclose(file_);
        file_ = nullptr;
      }
    }
    return text_;
  }

 private:
  int fd_;
  int saved_ = -1;
  std::FILE* file_ = nullptr;
  std::string text_;
};

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// A temporary HOME (and XDG directories) with no inherited devicelogin or D-Bus settings.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/devicelogin-cli-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    home_ = pattern;
    for (const char* name : {"DEVICELOGIN_CLIENT_SECRET", "DBUS_SESSION_BUS_ADDRESS", "http_proxy", "https_proxy",
                             "all_proxy", "HTTPS_PROXY", "ALL_PROXY"}) {
      ::unsetenv(name);
    }
    ::setenv("HOME", home_.c_str(), 1);
    ::setenv("XDG_CONFIG_HOME", (home_ / ".config").c_str(), 1);
    ::setenv("XDG_STATE_HOME", (home_ / ".local/state").c_str(), 1);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(home_, ignored);
  }

  static CliRun run(std::vector<std::string> args) {
    args.insert(args.begin(), "devicelogin");
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    CliRun result;
    CapturedFd out(STDOUT_FILENO);
    CapturedFd err(STDERR_FILENO);
    result.code = devicelogin_cli_main(static_cast<int>(args.size()), argv.data());
    result.err = err.text();
    result.out = out.text();
    return result;
  }

  std::filesystem::path home_;
};

// Exactly one line (ending in '\n', none before).
bool one_line(const std::string& text) {
  return !text.empty() && text.back() == '\n' && text.find('\n') == text.size() - 1;
}

// ---- exit codes: the README's table ("Exit codes"), one row per error kind ----

TEST(CliExitCodes, EveryErrorCodeMapsToTheDocumentedExitCode) {
  struct Row {
    ErrorCode code;
    int exit_code;
  };
  // README: 1 other failure (e.g. invalid_client), 2 usage or configuration, 3 access denied,
  // 4 device code expired, 5 not logged in or re-login required, 6 network or server error,
  // 7 storage error, 130 cancelled.
  for (const Row& row : {Row{ErrorCode::kUsage, 2}, Row{ErrorCode::kConfig, 2}, Row{ErrorCode::kAccessDenied, 3},
                         Row{ErrorCode::kExpiredToken, 4}, Row{ErrorCode::kNotLoggedIn, 5},
                         Row{ErrorCode::kReloginRequired, 5}, Row{ErrorCode::kNetwork, 6}, Row{ErrorCode::kServer, 6},
                         Row{ErrorCode::kStorage, 7}, Row{ErrorCode::kCancelled, 130}, Row{ErrorCode::kProtocol, 1},
                         Row{ErrorCode::kInternal, 1}}) {
    SCOPED_TRACE(error_code_name(row.code));
    EXPECT_EQ(exit_code_for(row.code), row.exit_code);
    // report_error is what every subcommand returns from main: the same code, one stderr line.
    CapturedFd err(STDERR_FILENO);
    const int returned = report_error("token", Error{row.code, "something failed", "", 0});
    const std::string line = err.text();
    EXPECT_EQ(returned, row.exit_code);
    EXPECT_EQ(line, "devicelogin token: something failed\n");
  }
}

// ---- output formatting ----

TEST(CliOutput, ReportErrorPrintsOneSanitizedLine) {
  CapturedFd err(STDERR_FILENO);
  const int code = report_error("login", Error{ErrorCode::kServer, "server said \x1b[31mred\x1b[0m\nsecond line\r", "", 502});
  const std::string text = err.text();
  EXPECT_EQ(code, 6);
  EXPECT_TRUE(one_line(text)) << text;
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << "escape sequence reached the terminal";
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_TRUE(text.starts_with("devicelogin login: server said ")) << text;
  EXPECT_NE(text.find("second line"), std::string::npos) << "the text after the control character is kept";
}

TEST(CliOutput, RemediesBecomeTheCommandsHints) {
  // The library says what is wrong and which setting helps; only the CLI names its flags.
  Error api = remedy_error(ErrorCode::kUsage, "refusing to send the token of profile \"work\" to https://x.test:443",
                           Remedy::kAddSettings, "work", "api_urls");
  EXPECT_EQ(render_error(api), "refusing to send the token of profile \"work\" to https://x.test:443; add it with: "
                               "devicelogin login --profile work --api-url URL");
  Error missing = remedy_error(ErrorCode::kUsage, "no server", Remedy::kAddSettings, "work", "issuer|provider,client_id");
  EXPECT_EQ(render_error(missing), "no server; pass --issuer URL or --provider NAME, and --client-id ID");
  Error relogin = remedy_error(ErrorCode::kNotLoggedIn, "not logged in (profile work)", Remedy::kSignIn, "work");
  EXPECT_EQ(render_error(relogin), "not logged in (profile work); run: devicelogin login --profile work");
  Error store = remedy_error(ErrorCode::kStorage, "no keyring", Remedy::kChooseStore, {}, "kernel-keyring,file");
  EXPECT_EQ(render_error(store), "no keyring; use --store kernel-keyring or --store file");
  // Device-code sign-in turned off: the browser flow is the way out.
  Error blocked = remedy_error(ErrorCode::kProtocol, "your administrator has turned off device-code sign-in for this app",
                               Remedy::kUseBrowserFlow, "work");
  EXPECT_EQ(render_error(blocked),
            "your administrator has turned off device-code sign-in for this app; sign in with the browser flow instead "
            "(devicelogin login --flow browser --profile work, on a computer with a browser), or ask your administrator "
            "to allow device-code sign-in");
  EXPECT_STREQ(remedy_name(Remedy::kUseBrowserFlow), "use_browser_flow");
}

TEST(CliOutput, ReportErrorWithoutACommandNamesOnlyTheProgram) {
  CapturedFd err(STDERR_FILENO);
  (void)report_error("", Error{ErrorCode::kUsage, "bad", "", 0});
  EXPECT_EQ(err.text(), "devicelogin: bad\n");
}

TEST(CliOutput, EmitJsonWritesOneParsableLineAndReplacesInvalidUtf8) {
  CapturedFd out(STDOUT_FILENO);
  emit_json({{"event", "error"}, {"message", std::string("bad \xff byte\nand a newline")}});
  const std::string text = out.text();
  ASSERT_TRUE(one_line(text)) << text;
  json parsed = json::parse(text, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << text;
  EXPECT_EQ(parsed["event"], "error");
  EXPECT_EQ(parsed["message"], "bad \xEF\xBF\xBD byte\nand a newline");  // U+FFFD for the bad byte
}

// When secret memory cannot be locked (mlock refused), --verbose says so in one note
// line, before the first trace line, and only once. Run in a child process without CAP_IPC_LOCK
// and with RLIMIT_MEMLOCK at 0.
TEST(CliOutput, VerboseTraceNotesOnceThatSecretMemoryCouldNotBeLocked) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!testing::refuse_memory_locking()) ::_exit(10);
    const Secret secret(std::string(100, 's'));  // a heap buffer: its mlock is refused
    auto sink = verbose_trace_sink();
    CapturedFd err(STDERR_FILENO);
    sink("> GET /first HTTP/1.1");
    sink("> GET /second HTTP/1.1");
    const std::string text = err.text();
    const std::string note_start = "* secret memory could not be locked in RAM (";
    if (!text.starts_with(note_start)) ::_exit(11);
    const auto first_end = text.find('\n');
    if (text.substr(0, first_end).find("RLIMIT_MEMLOCK 0 bytes") == std::string::npos) ::_exit(12);
    if (text.substr(first_end + 1) != "> GET /first HTTP/1.1\n> GET /second HTTP/1.1\n") ::_exit(13);
    ::_exit(secret.size() == 100 ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setting up the child failed; 11, 12: no note line naming the limit "
                                       "first; 13: the trace lines are not exactly the two given, once each";
}

TEST(CliOutput, VerboseTraceHasNoNoteWhenSecretMemoryIsLocked) {
  const Secret secret(std::string(100, 's'));
  auto sink = verbose_trace_sink();
  CapturedFd err(STDERR_FILENO);
  sink("> GET / HTTP/1.1");
  EXPECT_EQ(err.text(), "> GET / HTTP/1.1\n");
}

TEST(CliOutput, StringOrNull) {
  EXPECT_TRUE(string_or_null("").is_null());
  EXPECT_EQ(string_or_null("alice"), json("alice"));
}

TEST(CliOutput, DescribeExpiryFormatsUtcAndTheTimeLeft) {
  EXPECT_EQ(describe_expiry(std::nullopt), "unknown");
  EXPECT_EQ(describe_expiry(0), "1970-01-01 00:00:00 UTC (expired)");
  EXPECT_EQ(describe_expiry(86'400), "1970-01-02 00:00:00 UTC (expired)");
  // The time left is computed from the clock: a second may pass between here and there, so each
  // case accepts the value for `left` and for `left - 1`, and sits where both fall in one unit.
  struct Case {
    long long left;
    std::string unit_text;      // for `left`
    std::string unit_text_less;  // for `left - 1`
  };
  for (const Case& c : {Case{90, "(in 90 s)", "(in 89 s)"}, Case{119, "(in 119 s)", "(in 118 s)"},
                        Case{3000, "(in 50 min)", "(in 49 min)"}, Case{5 * 3600 + 1800, "(in 5 h)", "(in 5 h)"}}) {
    SCOPED_TRACE(c.left);
    const long long now = static_cast<long long>(std::time(nullptr));
    const std::string text = describe_expiry(now + c.left);
    EXPECT_TRUE(text.ends_with(" UTC " + c.unit_text) || text.ends_with(" UTC " + c.unit_text_less)) << text;
  }
  const long long now = static_cast<long long>(std::time(nullptr));
  EXPECT_TRUE(describe_expiry(now - 1).ends_with(" UTC (expired)"));
}

// ---- argument parsing: devicelogin_cli_main with argv ----

TEST_F(CliTest, VersionAndHelpExitZero) {
  CliRun version = run({"--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_EQ(version.out, std::string("devicelogin ") + DEVICELOGIN_TEST_VERSION + "\n");
  CliRun help = run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("Exit codes: 0 ok"), std::string::npos) << help.out;
  for (const char* command : {"login", "status", "token", "refresh", "logout", "serve", "demo"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << command;
  }
}

TEST_F(CliTest, UsageErrorsExitTwoWithOneLine) {
  struct Case {
    std::vector<std::string> args;
    std::string names;  // part of the one stderr line
  };
  for (const Case& c : {Case{{}, "subcommand"}, Case{{"frobnicate"}, "A subcommand is required"},
                        Case{{"token", "--bogus"}, "--bogus"}, Case{{"token", "--min-ttl", "soon"}, "soon"},
                        Case{{"token", "--min-ttl"}, "--min-ttl"}, Case{{"status", "extra"}, "extra"}}) {
    std::string joined;
    for (const auto& arg : c.args) joined += arg + " ";
    SCOPED_TRACE(joined);
    CliRun r = run(c.args);
    EXPECT_EQ(r.code, 2);
    EXPECT_TRUE(one_line(r.err)) << r.err;
    EXPECT_TRUE(r.err.starts_with("devicelogin: ")) << r.err;
    EXPECT_TRUE(r.err.ends_with(" (see: devicelogin --help)\n")) << r.err;
    EXPECT_NE(r.err.find(c.names), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(CliTest, CommandsCheckTheirArgumentsBeforeAnyWork) {
  struct Case {
    std::vector<std::string> args;
    std::string line;  // the whole stderr line
  };
  for (const Case& c : {
           Case{{"token", "--min-ttl", "-5"}, "devicelogin token: --min-ttl must be 0 or more seconds\n"},
           Case{{"login", "--issuer", "https://id.example.com", "--store", "file"},
                "devicelogin login: a client id is required; pass --client-id ID\n"},
           Case{{"login", "--provider", "nope", "--client-id", "c", "--store", "file"},
                "devicelogin login: unknown provider \"nope\" (known: github, google, microsoft, workos, auth0, "
                "okta, keycloak)\n"},
           Case{{"login", "--profile", "../etc", "--issuer", "https://id.example.com", "--client-id", "c"},
                "devicelogin login: invalid profile name \"../etc\" (use letters, digits, '.', '_' and '-')\n"},
       }) {
    SCOPED_TRACE(c.line);
    CliRun r = run(c.args);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err, c.line);
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(CliTest, PlainHttpToARemoteIssuerIsAConfigurationError) {
  // Refused by the URL policy before anything is resolved or sent.
  CliRun r = run({"login", "--issuer", "http://id.example.com", "--client-id", "c", "--store", "file", "--json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(one_line(r.err)) << r.err;
  EXPECT_TRUE(r.err.starts_with("devicelogin login: ")) << r.err;
  ASSERT_TRUE(one_line(r.out)) << r.out;
  json event = json::parse(r.out, nullptr, false);
  EXPECT_EQ(event["event"], "error");
  EXPECT_EQ(event["error"], "configuration");
  EXPECT_EQ(event["message"].get<std::string>() + "\n", r.err.substr(std::string("devicelogin login: ").size()));
}

TEST_F(CliTest, NothingStoredIsNotLoggedIn) {
  CliRun token = run({"token"});
  EXPECT_EQ(token.code, 5);
  EXPECT_EQ(token.out, "") << "token prints nothing on stdout when it fails";
  EXPECT_TRUE(one_line(token.err) && token.err.starts_with("devicelogin token: ")) << token.err;

  CliRun status = run({"status", "--json", "--profile", "work"});
  EXPECT_EQ(status.code, 5);
  ASSERT_TRUE(one_line(status.out)) << status.out;
  json parsed = json::parse(status.out, nullptr, false);
  // README: {"profile","issuer","logged_in","token_type","jkt","expires_at","scope","subject","store","relogin_required",
  // "clock_offset_s","stored_bytes","quota_used_bytes","quota_left_bytes"}
  EXPECT_EQ(parsed, json({{"profile", "work"}, {"issuer", nullptr}, {"logged_in", false}, {"token_type", nullptr},
                          {"jkt", nullptr}, {"expires_at", nullptr},
                          {"scope", nullptr}, {"subject", nullptr}, {"store", nullptr},
                          {"relogin_required", false}, {"clock_offset_s", nullptr}, {"stored_bytes", nullptr},
                          {"quota_used_bytes", nullptr}, {"quota_left_bytes", nullptr}}));
  EXPECT_TRUE(one_line(status.err) && status.err.starts_with("devicelogin status: ")) << status.err;
}

// exec and api check their arguments before opening a session or sending anything, so that a
// mistyped command costs no login and sends no token.
TEST_F(CliTest, ExecAndApiCheckTheirArgumentsBeforeAnyWork) {
  struct Case {
    std::vector<std::string> args;
    std::string line;  // the whole stderr line
  };
  for (const Case& c : {
           Case{{"exec"}, "devicelogin exec: no command given; usage: devicelogin exec [--env NAME] -- CMD ARGS...\n"},
           Case{{"exec", "--min-ttl", "-1", "--", "true"}, "devicelogin exec: --min-ttl must be 0 or more seconds\n"},
           Case{{"exec", "--env", "1X", "--", "true"},
                "devicelogin exec: --env needs a variable name (letters, digits and _, not starting with a digit)\n"},
           Case{{"exec", "--env", "A=B", "--", "true"},
                "devicelogin exec: --env needs a variable name (letters, digits and _, not starting with a digit)\n"},
           Case{{"exec", "--env", "LD_PRELOAD", "--", "true"},
                "devicelogin exec: --env LD_PRELOAD: the dynamic loader, the C library or a shell reads that variable "
                "itself; choose another name\n"},
           Case{{"exec", "--env", "BASH_ENV", "--", "true"},
                "devicelogin exec: --env BASH_ENV: the dynamic loader, the C library or a shell reads that variable "
                "itself; choose another name\n"},
           Case{{"api", "-X", "get", "/x"}, "devicelogin api: -X needs an HTTP method in capitals, such as GET or POST\n"},
           // The malformed argument is not echoed: it may hold a credential (review finding).
           Case{{"api", "-H", "NoColon", "/x"},
                "devicelogin api: -H needs 'Name: value' with a name of letters, digits and !#$%&'*+-.^_`|~ before the ':'\n"},
           Case{{"api", "-H", "Bad Name: v", "/x"},
                "devicelogin api: -H needs 'Name: value' with a name of letters, digits and !#$%&'*+-.^_`|~ before the ':'\n"},
           Case{{"api", "-H", "authorization: Bearer x", "/x"},
                "devicelogin api: -H Authorization: the token's header is added by devicelogin; pass no other\n"},
       }) {
    SCOPED_TRACE(c.line);
    CliRun r = run(c.args);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err, c.line);
    EXPECT_EQ(r.out, "");
  }
  // Flags are parsed: api without a target, and a flag exec does not know, are CLI11 usage errors.
  for (const std::vector<std::string>& args : {std::vector<std::string>{"api"}, std::vector<std::string>{"exec", "--nope", "--", "true"}}) {
    CliRun r = run(args);
    EXPECT_EQ(r.code, 2);
    EXPECT_TRUE(one_line(r.err)) << r.err;
  }
  // Well-formed, but nothing is stored: not logged in (5), one line, nothing on stdout.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"token", "--header"}, std::vector<std::string>{"exec", "--", "true"},
        std::vector<std::string>{"api", "/x"}}) {
    CliRun r = run(args);
    EXPECT_EQ(r.code, 5) << args.front();
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(one_line(r.err)) << r.err;
  }
}

TEST(CliOutput, AuthorizationSchemeOfATokenType) {
  EXPECT_EQ(authorization_scheme("Bearer"), "Bearer");
  EXPECT_EQ(authorization_scheme("bearer"), "Bearer");
  EXPECT_EQ(authorization_scheme("BEARER"), "Bearer");
  EXPECT_EQ(authorization_scheme(""), "Bearer");
  EXPECT_EQ(authorization_scheme("DPoP"), "DPoP");
  EXPECT_EQ(authorization_scheme("bad type\r\n"), "Bearer");
  EXPECT_EQ(authorization_scheme("bearers"), "bearers");
}

}  // namespace
}  // namespace devicelogin::cli
