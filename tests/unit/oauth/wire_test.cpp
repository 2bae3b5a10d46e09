// Response parsing for every provider shape, and malformed answers handled as data.
#include <gtest/gtest.h>

#include "core/encoding.hpp"
#include "oauth/wire.hpp"

namespace devicelogin::oauth {
namespace {

HttpResponse response(int status, std::string body, HttpHeaders headers = {}) {
  HttpResponse out;
  out.status = status;
  out.body = Secret(std::move(body));
  out.headers = std::move(headers);
  return out;
}

std::string jwt_with(const std::string& claims) {
  return core::base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." + core::base64url_encode(claims) + ".c2lnbmF0dXJl";
}

TEST(DeviceAuthorization, Rfc8628Shape) {
  auto parsed = parse_device_authorization(response(200, R"({
    "device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS","user_code":"WDJB-MJHT",
    "verification_uri":"https://example.com/device",
    "verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT",
    "expires_in":1800,"interval":5})"));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->device_code.reveal(), "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS");
  EXPECT_EQ(parsed->user_code, "WDJB-MJHT");
  EXPECT_EQ(parsed->verification_uri, "https://example.com/device");
  EXPECT_EQ(parsed->verification_uri_complete, "https://example.com/device?user_code=WDJB-MJHT");
  EXPECT_EQ(parsed->expires_in, 1800);
  EXPECT_EQ(parsed->interval, 5);
}

TEST(DeviceAuthorization, GoogleVerificationUrlAndDefaultInterval) {
  auto parsed = parse_device_authorization(response(200, R"({"device_code":"AH-1","user_code":"GQVQ-JKEC",
    "verification_url":"https://www.google.com/device","expires_in":1800})"));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->verification_uri, "https://www.google.com/device");
  EXPECT_EQ(parsed->interval, 5);  // RFC 8628 §3.2 default
}

TEST(DeviceAuthorization, EntraMessageAndStringNumbers) {
  auto parsed = parse_device_authorization(response(200, R"({"user_code":"FQK5HW3UF","device_code":"DAQABAAEAAA",
    "verification_uri":"https://microsoft.com/devicelogin","expires_in":"900","interval":"5",
    "message":"To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FQK5HW3UF to authenticate."})"));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->expires_in, 900);
  EXPECT_NE(parsed->message.find("FQK5HW3UF"), std::string::npos);
}

TEST(DeviceAuthorization, GithubFormEncoded) {
  auto parsed = parse_device_authorization(response(
      200, "device_code=3584d83530557fdd1f46af8289938c8ef79f9dc5&expires_in=900&interval=5&user_code=WDJB-MJHT&"
           "verification_uri=https%3A%2F%2Fgithub.com%2Flogin%2Fdevice",
      {{"content-type", "application/x-www-form-urlencoded"}}));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->verification_uri, "https://github.com/login/device");
  EXPECT_EQ(parsed->user_code, "WDJB-MJHT");
}

TEST(DeviceAuthorization, ControlCharactersRemoved) {
  auto parsed = parse_device_authorization(response(200, R"({"device_code":"d","user_code":"AB\u001b[2JCD",
    "verification_uri":"https://x/\u0007dev","expires_in":60,"message":"hi\u009b31m"})"));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->user_code, "AB[2JCD");
  EXPECT_EQ(parsed->verification_uri, "https://x/dev");
  EXPECT_EQ(parsed->message, "hi31m");
}

struct BadCase {
  const char* name;
  int status;
  const char* body;
  ErrorCode code;
};

class BadDeviceAuthorization : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadDeviceAuthorization, IsAClearError) {
  auto parsed = parse_device_authorization(response(GetParam().status, GetParam().body));
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, GetParam().code);
  EXPECT_FALSE(parsed.error().message.empty());
  EXPECT_EQ(parsed.error().message.find("secret-device-code"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Wire, BadDeviceAuthorization,
    ::testing::Values(
        BadCase{"no_device_code", 200, R"({"user_code":"A","verification_uri":"https://x","expires_in":5})", ErrorCode::kServer},
        BadCase{"no_user_code", 200, R"({"device_code":"secret-device-code","verification_uri":"https://x","expires_in":5})", ErrorCode::kServer},
        BadCase{"no_uri", 200, R"({"device_code":"secret-device-code","user_code":"A","expires_in":5})", ErrorCode::kServer},
        BadCase{"no_expiry", 200, R"({"device_code":"secret-device-code","user_code":"A","verification_uri":"https://x"})", ErrorCode::kServer},
        BadCase{"negative_expiry", 200, R"({"device_code":"secret-device-code","user_code":"A","verification_uri":"https://x","expires_in":-1})", ErrorCode::kServer},
        BadCase{"wrong_types", 200, R"({"device_code":42,"user_code":["A"],"verification_uri":{},"expires_in":"x"})", ErrorCode::kServer},
        BadCase{"not_json", 200, "<html>oops</html>", ErrorCode::kServer},
        BadCase{"json_array", 200, "[1,2]", ErrorCode::kServer},
        BadCase{"empty", 200, "", ErrorCode::kServer},
        BadCase{"http_500", 500, "secret-device-code", ErrorCode::kServer},
        BadCase{"oauth_error", 400, R"({"error":"invalid_client","error_description":"unknown client"})", ErrorCode::kProtocol},
        BadCase{"github_disabled", 200, "error=device_flow_disabled&error_description=Device+flow+disabled", ErrorCode::kProtocol}),
    [](const ::testing::TestParamInfo<BadCase>& param_info) { return std::string(param_info.param.name); });

TEST(TokenReply, StandardTokens) {
  auto reply = parse_token_reply(response(200, R"({"access_token":"at","token_type":"bearer","expires_in":3600,
    "refresh_token":"rt","scope":"openid offline_access"})"), 1000);
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->kind, TokenReply::Kind::kTokens);
  EXPECT_EQ(reply->tokens.access_token.reveal(), "at");
  EXPECT_EQ(reply->tokens.refresh_token.reveal(), "rt");
  EXPECT_EQ(reply->tokens.expires_at, 4600);
  EXPECT_EQ(reply->tokens.token_type, "bearer");
  EXPECT_EQ(reply->tokens.scope, "openid offline_access");
}

TEST(TokenReply, WorkosJwtExpWithoutExpiresInOrTokenType) {
  std::string access = jwt_with(R"({"sub":"user_01","exp":1900000000,"sid":"s"})");
  auto reply = parse_token_reply(response(200, R"({"user":{"id":"user_01"},"access_token":")" + access +
                                                   R"(","refresh_token":"rt"})"), 1000);
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->kind, TokenReply::Kind::kTokens);
  EXPECT_EQ(reply->tokens.expires_at, 1900000000);
  EXPECT_EQ(reply->tokens.token_type, "Bearer");
  EXPECT_EQ(reply->tokens.subject, "user_01");
}

TEST(TokenReply, OpaqueTokenWithoutExpiry) {
  auto reply = parse_token_reply(response(200, R"({"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","token_type":"bearer","scope":"repo"})"), 1000);
  ASSERT_TRUE(reply.has_value());
  EXPECT_FALSE(reply->tokens.expires_at.has_value());
}

TEST(TokenReply, SubjectFromIdToken) {
  std::string id = jwt_with(R"({"sub":"alice","aud":"c","iss":"https://x"})");
  auto reply = parse_token_reply(response(200, R"({"access_token":"opaque","expires_in":60,"id_token":")" + id + R"("})"), 0);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->tokens.subject, "alice");
}

TEST(TokenReply, GithubErrorWithHttp200FormEncoded) {
  auto reply = parse_token_reply(response(200, "error=authorization_pending&error_description=The+authorization+request+is+still+pending.&error_uri=https%3A%2F%2Fdocs.github.com"), 0);
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->kind, TokenReply::Kind::kError);
  EXPECT_EQ(reply->error.error, "authorization_pending");
  EXPECT_EQ(reply->error.description, "The authorization request is still pending.");
}

TEST(TokenReply, GithubSlowDownCarriesInterval) {
  auto reply = parse_token_reply(response(200, R"({"error":"slow_down","interval":10})"), 0);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error.error, "slow_down");
  EXPECT_EQ(reply->error.interval, 10);
}

TEST(TokenReply, ErrorWith400) {
  auto reply = parse_token_reply(response(400, R"({"error":"access_denied"})"), 0);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->kind, TokenReply::Kind::kError);
  EXPECT_EQ(reply->error.error, "access_denied");
}

// RFC 6749 Appendix A.7: an error code is 1*NQSCHAR (%x20-21 / %x23-5B / %x5D-7E). An answer whose
// `error` is anything else is malformed (kServer), not an OAuth error with an empty or garbled code
// (found by fuzz/token_reply_fuzzer.cpp: a DEL-only code was sanitized to "").
TEST(TokenReply, ErrorCodesOutsideNqscharAreMalformed) {
  for (std::string code : {std::string("\x7f"), std::string("pending\x1b[2J"), std::string("a\"b"),
                           std::string("back\\slash"), std::string("caf\xc3\xa9")}) {
    std::string body = "error=" + core::url_encode(code);
    auto form = parse_token_reply(response(200, body, {{"content-type", "application/x-www-form-urlencoded"}}), 0);
    ASSERT_FALSE(form.has_value()) << "code of " << code.size() << " bytes";
    EXPECT_EQ(form.error().code, ErrorCode::kServer);
    auto status400 = parse_token_reply(response(400, body, {{"content-type", "application/x-www-form-urlencoded"}}), 0);
    ASSERT_FALSE(status400.has_value());
    EXPECT_EQ(status400.error().code, ErrorCode::kServer);
  }
  auto spaced = parse_token_reply(response(400, R"({"error":"odd but valid"})"), 0);
  ASSERT_TRUE(spaced.has_value());
  EXPECT_EQ(spaced->error.error, "odd but valid");
}

TEST(TokenReply, TransientStatusesAndRetryAfter) {
  for (int status : {500, 502, 503, 504, 429}) {
    auto reply = parse_token_reply(response(status, "busy", {{"retry-after", "17"}}), 0);
    ASSERT_TRUE(reply.has_value()) << status;
    EXPECT_EQ(reply->kind, TokenReply::Kind::kTransient) << status;
    EXPECT_EQ(reply->retry_after, 17) << status;
  }
  auto date_form = parse_token_reply(response(503, "", {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}}), 0);
  ASSERT_TRUE(date_form.has_value());
  EXPECT_FALSE(date_form->retry_after.has_value());
}

TEST(TokenReply, UnusableAnswersAreErrors) {
  EXPECT_EQ(parse_token_reply(response(302, ""), 0).error().code, ErrorCode::kServer);
  EXPECT_EQ(parse_token_reply(response(404, "not found"), 0).error().code, ErrorCode::kServer);
  EXPECT_EQ(parse_token_reply(response(200, R"({"token_type":"Bearer"})"), 0).error().code, ErrorCode::kServer);
  EXPECT_EQ(parse_token_reply(response(200, R"({"access_token":""})"), 0).error().code, ErrorCode::kServer);
  EXPECT_EQ(parse_token_reply(response(200, "{truncated"), 0).error().code, ErrorCode::kServer);
}

TEST(Jwt, ClaimsOnlyForWellFormedTokens) {
  EXPECT_TRUE(unverified_jwt_claims_json(jwt_with(R"({"a":1})")).has_value());
  EXPECT_FALSE(unverified_jwt_claims_json("opaque").has_value());
  EXPECT_FALSE(unverified_jwt_claims_json("a.b").has_value());
  EXPECT_FALSE(unverified_jwt_claims_json("a.!!!.c").has_value());
  EXPECT_FALSE(unverified_jwt_claims_json("a." + core::base64url_encode("[1]") + ".c").has_value());
  EXPECT_FALSE(unverified_jwt_claims_json("a.b.c.d").has_value());
}

}  // namespace
}  // namespace devicelogin::oauth

namespace devicelogin::oauth {
namespace {

TEST(TokenReply, SlowDownWith429IsASlowDown) {
  auto reply = parse_token_reply(response(429, R"({"error":"slow_down"})"), 0);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->kind, TokenReply::Kind::kError);
  EXPECT_EQ(reply->error.error, "slow_down");
}

TEST(TokenReply, TokensMustBePrintableAscii) {
  for (const char* body : {R"({"access_token":"a\u00ffb"})", R"({"access_token":"ok","refresh_token":"r\nr"})",
                           "access_token=%FF%FE"}) {
    auto reply = parse_token_reply(response(200, body), 0);
    ASSERT_FALSE(reply.has_value()) << body;
    EXPECT_EQ(reply.error().code, ErrorCode::kServer);
  }
}

TEST(TokenReply, HugeLifetimesAreClamped) {
  auto reply = parse_token_reply(response(200, R"({"access_token":"at","expires_in":9223372036854775807})"), 1000);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->tokens.expires_at.has_value());
  EXPECT_LE(*reply->tokens.expires_at, 1000 + 10LL * 366 * 24 * 3600);
  auto device = parse_device_authorization(response(200, R"({"device_code":"d","user_code":"u",
    "verification_uri":"https://x","expires_in":10000000000})"));
  ASSERT_TRUE(device.has_value());
  EXPECT_EQ(device->expires_in, 24 * 3600);
  TokenSet expiring;
  expiring.access_token = Secret("a");
  expiring.expires_at = 100;
  EXPECT_FALSE(expiring.fresh_at(50, 9223372036854775807LL));  // no overflow into "fresh"
}

TEST(TokenReply, DeepNestingDoesNotCrash) {
  std::string deep = R"({"error":"x","nested":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto reply = parse_token_reply(response(400, deep), 0);
  EXPECT_TRUE(reply.has_value());  // parsed (or refused) without overflowing the stack
}

}  // namespace
}  // namespace devicelogin::oauth
