// The audit trail's writer (store/audit.hpp): the line's fields, the token's name (jti or SHA-256
// prefix, never the token), whole lines from many processes at once, and rotation that keeps
// whole lines. Plus the SHA-256 it names tokens with (FIPS 180-2 test vectors).
#include "store/audit.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

#include <utility>
#include <vector>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/encoding.hpp"
#include "core/sha256.hpp"
#include "store/token_codec.hpp"

namespace devicelogin::store {
namespace {

class TempDirectory {
 public:
  TempDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "audit-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDirectory() { std::filesystem::remove_all(path_); }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;
  [[nodiscard]] std::string state() const { return path_ + "/state"; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Every line of `text` (which must end with '\n'); fails the test for a line that does not parse.
std::vector<nlohmann::json> parse_lines(const std::string& text, const std::string& what) {
  std::vector<nlohmann::json> records;
  if (!text.empty()) {
    EXPECT_EQ(text.back(), '\n') << what << " ends inside a line";
  }
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto record = nlohmann::json::parse(line, nullptr, false);
    EXPECT_TRUE(record.is_object()) << what << ": a line that is not a whole JSON object (" << line.size() << " bytes)";
    records.push_back(std::move(record));
  }
  return records;
}

AuditEvent handout(const std::string& profile, const Secret& token) {
  AuditEvent event;
  event.event = "handout";
  event.profile = profile;
  event.consumer = "token";
  event.token_id = audit_token_id(token);
  return event;
}

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(core::sha256_hex_prefix("abc", 64), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(core::sha256_hex_prefix("", 64), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(core::sha256_hex_prefix("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 64),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // 55, 56 and 64 bytes: the padding's one- and two-block cases.
  EXPECT_EQ(core::sha256_hex_prefix(std::string(55, 'a'), 64), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(core::sha256_hex_prefix(std::string(56, 'a'), 64), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(core::sha256_hex_prefix(std::string(1000000, 'a'), 64), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(core::sha256_hex_prefix("abc", 8), "ba7816bf");
}

TEST(AuditTokenId, JwtWithJtiIsNamedByItElseBySha256Prefix) {
  const std::string claims = core::base64url_encode(R"({"sub":"u","jti":"abc-123"})");
  EXPECT_EQ(audit_token_id(Secret("eyJhbGciOiJub25lIn0." + claims + ".c2ln")), "jti:abc-123");
  const std::string opaque = "canary-opaque-token-value-0123456789";
  EXPECT_EQ(audit_token_id(Secret(opaque)), "sha256:" + core::sha256_hex_prefix(opaque, 8));
  // A jti that is not printable, or too long to be a name, is not used.
  const std::string odd = core::base64url_encode(R"({"jti":"a b"})");
  EXPECT_TRUE(audit_token_id(Secret("h." + odd + ".s")).starts_with("sha256:"));
  const std::string long_jti = core::base64url_encode(R"({"jti":")" + std::string(65, 'x') + R"("})");
  EXPECT_TRUE(audit_token_id(Secret("h." + long_jti + ".s")).starts_with("sha256:"));
  EXPECT_EQ(audit_token_id(Secret()), "");
}

// The stored set carries the token's name (token_set.hpp: the hot path reads it instead of
// decoding the claims), worked out from the token when the set is encoded, never copied from the
// field, and read back as it was stored.
TEST(AuditTokenId, StoredWithTheSetAndWorkedOutFromTheToken) {
  const std::string claims = core::base64url_encode(R"({"sub":"u","jti":"stored-1"})");
  TokenSet tokens;
  tokens.access_token = Secret("eyJhbGciOiJub25lIn0." + claims + ".c2ln");
  tokens.access_token_id = "jti:stale-name";
  auto decoded = decode_token_set(encode_token_set(tokens).reveal());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->access_token_id, "jti:stored-1");
  tokens.access_token = Secret(std::string_view("opaque-token-value"));
  decoded = decode_token_set(encode_token_set(tokens).reveal());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->access_token_id, "sha256:" + core::sha256_hex_prefix("opaque-token-value", 8));
  // A set stored by an older version has none: the name is worked out when needed.
  decoded = decode_token_set(R"({"version":1,"access_token":"t"})");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->access_token_id, "");
}

// Secrets whose JSON text has escapes (a DPoP key is a JWK: always quoted inside; a token may hold
// any printable character) come back exactly, short or long, through the scanner's decoding.
TEST(TokenSetCodec, SecretsWithEscapesComeBackExactly) {
  TokenSet tokens;
  tokens.access_token = Secret(std::string_view("ab\"c\\d\u00e9"));
  tokens.refresh_token = Secret(std::string_view("short\"one"));
  tokens.dpop_key = Secret(std::string_view(R"({"kty":"OKP","crv":"Ed25519","d":"x","x":"y"})"));
  auto decoded = decode_token_set(encode_token_set(tokens).reveal());
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(decoded->access_token.equals(tokens.access_token));
  EXPECT_TRUE(decoded->refresh_token.equals(tokens.refresh_token));
  EXPECT_TRUE(decoded->dpop_key.equals(tokens.dpop_key));
}

TEST(AuditLine, TimeIsTheUtcCivilTime) {
  const AuditProcess process{1, "/x", 1, "/y"};
  AuditEvent event;
  event.event = "handout";
  // A leap day's last second, the epoch, and the first second of a year.
  for (const auto& [ts, expected] : std::vector<std::pair<long long, std::string>>{
           {1709251199, "2024-02-29T23:59:59Z"}, {0, "1970-01-01T00:00:00Z"}, {1767225600, "2026-01-01T00:00:00Z"}}) {
    EXPECT_EQ(nlohmann::json::parse(audit_line(event, ts, process))["time"], expected) << ts;
  }
}

TEST(AuditLine, FieldsAndEscaping) {
  AuditEvent event;
  event.event = "handout";
  event.profile = "work";
  event.consumer = "exec";
  event.detail = "tool\n\"quoted\"";
  event.token_id = "sha256:0123abcd";
  event.refreshed = true;
  const AuditProcess process{42, "/usr/bin/x", 7, "/bin/sh"};
  const std::string line = audit_line(event, 1796670000, process);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line whatever the fields hold";
  const auto record = nlohmann::json::parse(line);
  EXPECT_EQ(record["time"], "2026-12-07T19:00:00Z");
  EXPECT_EQ(record["ts"], 1796670000);
  EXPECT_EQ(record["event"], "handout");
  EXPECT_EQ(record["profile"], "work");
  EXPECT_EQ(record["consumer"], "exec");
  EXPECT_EQ(record["detail"], "tool\n\"quoted\"");
  EXPECT_EQ(record["pid"], 42);
  EXPECT_EQ(record["exe"], "/usr/bin/x");
  EXPECT_EQ(record["ppid"], 7);
  EXPECT_EQ(record["parent_exe"], "/bin/sh");
  EXPECT_EQ(record["token_id"], "sha256:0123abcd");
  EXPECT_EQ(record["refreshed"], true);
  EXPECT_EQ(record["outcome"], "ok");
}

TEST(AuditLine, ControlCharactersAndInvalidUtf8StayValidJson) {
  AuditEvent event;
  event.event = "handout";
  event.detail = std::string("a\x01") + "b\x7f" + "\\c\xff" + "\xc3\xa9";
  const AuditProcess process{1, "/opt/\xe2\x82\xac/x", 1, ""};
  const std::string line = audit_line(event, 0, process);
  const auto record = nlohmann::json::parse(line, nullptr, false);
  ASSERT_TRUE(record.is_object()) << "a line nlohmann parses";
  EXPECT_EQ(record["detail"], std::string("a\x01") + "b\x7f" + "\\c\xef\xbf\xbd" + "\xc3\xa9")
      << "the invalid byte is U+FFFD, the rest kept";
  EXPECT_EQ(record["exe"], "/opt/\xe2\x82\xac/x");
  EXPECT_EQ(record.find("reason"), record.end()) << "empty optional fields are left out";
}

TEST(AuditRecord, PrivateFileNamingThisProcessAndNeverTheToken) {
  TempDirectory dir;
  const Secret token("canary-access-token-9f8e7d6c5b4a");
  ASSERT_TRUE(audit_record_in(handout("p", token), AuditSettings{}, dir.state(), kAuditRotateBytes));
  const std::string path = dir.state() + "/audit.jsonl";
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  const std::string text = read_file(path);
  EXPECT_EQ(text.find("canary-access-token"), std::string::npos) << "the token is not in the trail";
  const auto records = parse_lines(text, "audit.jsonl");
  ASSERT_EQ(records.size(), 1U);
  EXPECT_EQ(records[0]["pid"], ::getpid());
  EXPECT_EQ(records[0]["exe"], std::filesystem::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(records[0]["ppid"], ::getppid());
}

TEST(AuditRecord, DisabledWritesNothing) {
  TempDirectory dir;
  AuditSettings off;
  off.enabled = false;
  ASSERT_TRUE(audit_record_in(handout("p", Secret("t")), off, dir.state(), kAuditRotateBytes));
  EXPECT_FALSE(std::filesystem::exists(dir.state() + "/audit.jsonl"));
}

TEST(AuditRecord, RefusesAFileOthersCanRead) {
  TempDirectory dir;
  ASSERT_TRUE(audit_record_in(handout("p", Secret("t")), AuditSettings{}, dir.state(), kAuditRotateBytes));
  ASSERT_EQ(::chmod((dir.state() + "/audit.jsonl").c_str(), 0644), 0);
  EXPECT_FALSE(audit_record_in(handout("p", Secret("t")), AuditSettings{}, dir.state(), kAuditRotateBytes));
}

// Runs `writers` processes that each record `lines` events at once, with `rotate_bytes`.
void run_writers(const std::string& state, int writers, int lines, long long rotate_bytes) {
  std::vector<pid_t> children;
  for (int w = 0; w < writers; ++w) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failures = 0;
      for (int i = 0; i < lines; ++i) {
        AuditEvent event = handout("writer-" + std::to_string(w), Secret("t"));
        event.detail = std::string(static_cast<std::size_t>(50 + (i * 37 % 400)), 'd');  // lines of varied length
        if (!audit_record_in(event, AuditSettings{}, state, rotate_bytes)) ++failures;
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a writer failed to record";
  }
}

TEST(AuditRecord, ThirtyTwoConcurrentWritersLeaveOnlyWholeLines) {
  TempDirectory dir;
  run_writers(dir.state(), 32, 50, kAuditRotateBytes);
  const auto records = parse_lines(read_file(dir.state() + "/audit.jsonl"), "audit.jsonl");
  EXPECT_EQ(records.size(), 32U * 50U) << "every record is there, once";
}

TEST(AuditRecord, RotationUnderConcurrentWritersKeepsWholeLinesAndAtMostTwoOldFiles) {
  TempDirectory dir;
  // ~16 writers x 40 lines of ~300-700 bytes: about 300 KB through a 32 KiB limit, many rotations.
  run_writers(dir.state(), 16, 40, 32 * 1024);
  std::size_t total = 0;
  for (const char* name : {"audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"}) {
    const std::string path = dir.state() + "/" + name;
    ASSERT_TRUE(std::filesystem::exists(path)) << name;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600) << name;
    total += parse_lines(read_file(path), name).size();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.state() + "/audit.jsonl.3"));
  EXPECT_GT(total, 0U);
  // What the reader gives back is the same whole lines, oldest file first.
  auto lines = read_audit_lines(dir.state());
  ASSERT_TRUE(lines);
  EXPECT_EQ(lines->size(), total);
}

TEST(AuditRecord, SingleWriterRotationLosesNothingWithinTheKeptFiles) {
  TempDirectory dir;
  // 60 lines of ~300 bytes through an 8 KiB limit: three files hold the last ~24 KiB.
  for (int i = 0; i < 60; ++i) {
    AuditEvent event = handout("p", Secret("t"));
    event.detail = std::to_string(i) + std::string(200, 'd');
    ASSERT_TRUE(audit_record_in(event, AuditSettings{}, dir.state(), 8 * 1024));
  }
  auto lines = read_audit_lines(dir.state());
  ASSERT_TRUE(lines);
  ASSERT_FALSE(lines->empty());
  // Consecutive and ending with the last one written.
  int expected = -1;
  for (const std::string& line : *lines) {
    const auto record = nlohmann::json::parse(line);
    const int number = std::stoi(record["detail"].get<std::string>());
    if (expected >= 0) {
      EXPECT_EQ(number, expected) << "no line lost or reordered";
    }
    expected = number + 1;
  }
  EXPECT_EQ(expected, 60);
}

}  // namespace
}  // namespace devicelogin::store
