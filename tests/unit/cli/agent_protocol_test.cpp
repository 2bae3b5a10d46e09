// The token agent's protocol (cli/agent_protocol): framing, the requests the agent accepts and
// refuses, and the answers a client reads back.
#include "agent_protocol.hpp"

#include <gtest/gtest.h>

#include "helpers/agent_source.hpp"

#include <string>
#include <string_view>

namespace devicelogin::cli::agent {
namespace {

TEST(AgentProtocol, FrameHeaderIsFourBigEndianBytes) {
  EXPECT_EQ(frame_header(0x01020304U), std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(frame_length(std::string("\x00\x00\x10\x00", 4)), 4096U);
  EXPECT_EQ(frame_length(frame_header(0xffffffffU)), 0xffffffffU);
}

TEST(AgentProtocol, TokenAndStatusRequestsParse) {
  auto token = parse_request(R"({"op":"token","profile":"work","min_ttl":120})");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->operation, Operation::kToken);
  EXPECT_EQ(token->profile, "work");
  EXPECT_EQ(token->min_ttl, 120);
  auto defaults = parse_request(R"({"op":"token"})");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->profile, "");
  EXPECT_EQ(defaults->min_ttl, 60);
  auto status = parse_request(R"({"op":"status"})");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->operation, Operation::kStatus);
  auto again = parse_request(format_request(*token));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->profile, "work");
  EXPECT_EQ(again->min_ttl, 120);
}

TEST(AgentProtocol, TokenRequestMayNameAUrl) {
  auto request = parse_request(R"({"op":"token","profile":"work","min_ttl":30,"url":"HTTPS://api.example.com/v1/me?q=1"})");
  ASSERT_TRUE(request);
  EXPECT_EQ(request->url, "HTTPS://api.example.com/v1/me?q=1");
  auto again = parse_request(format_request(*request));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->url, request->url);
  EXPECT_EQ(format_request(Request{}).find("url"), std::string::npos);
  const std::string longest = "https://a.example/" + std::string(kMaxUrlBytes - 18, 'x');
  EXPECT_TRUE(parse_request(R"({"op":"token","url":")" + longest + "\"}"));
  EXPECT_FALSE(parse_request(R"({"op":"token","url":")" + longest + "x\"}"));
  EXPECT_EQ(refusal_from_name(refusal_name(Refusal::kDestination)), Refusal::kDestination);
}

class AgentRequestRefusal : public ::testing::TestWithParam<std::string_view> {};
TEST_P(AgentRequestRefusal, IsOneUsageLineWithoutTheInput) {
  auto request = parse_request(GetParam());
  ASSERT_FALSE(request);
  EXPECT_EQ(request.error().code, ErrorCode::kUsage);
  EXPECT_EQ(request.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(request.error().message.find("canary"), std::string::npos);
}
INSTANTIATE_TEST_SUITE_P(Table, AgentRequestRefusal,
                         ::testing::Values("", "not json", "[]", "{}", R"({"op":"refresh","profile":"canary"})",
                                           R"({"op":"token","refresh_token":"canary"})", R"({"op":"token","min_ttl":-1})",
                                           R"({"op":"token","min_ttl":1.5})", R"({"op":"token","min_ttl":"60"})",
                                           R"({"op":"token","min_ttl":99999999999})", R"({"op":"token","profile":"../canary"})",
                                           R"({"op":"token","profile":7})", R"({"op":"status","profile":"work"})",
                                           R"({"op":5})", R"({"op":"token","url":"ftp://canary.example/x"})",
                                           R"({"op":"token","url":"https://canary.example/a b"})", R"({"op":"token","url":""})",
                                           R"({"op":"token","url":"canary.example/x"})", R"({"op":"token","url":7})",
                                           R"({"op":"token","url":"https://canary.example/\u0000"})",
                                           R"({"op":"status","url":"https://canary.example/"})", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["));

TEST(AgentProtocol, OversizedRequestIsRefused) {
  const std::string big = R"({"op":"token","profile":")" + std::string(kMaxRequestBytes, 'a') + "\"}";
  EXPECT_FALSE(parse_request(big));
}

TEST(AgentProtocol, TokenAnswerRoundTrips) {
  AccessToken token{Secret("eyJ.canary.sig"), "Bearer", 1900000000};
  auto reply = parse_token_response(format_token_response(token).reveal());
  ASSERT_TRUE(reply);
  ASSERT_TRUE(*reply);
  EXPECT_TRUE((*reply)->equals(token.value));
  EXPECT_EQ((*reply)->token_type, "Bearer");
  EXPECT_EQ((*reply)->expires_at, 1900000000);
}

TEST(AgentProtocol, RefusalsComeBackByName) {
  auto reply = parse_token_response(format_refusal(Refusal::kNotForwarded, "profile \"x\"\nis not forwarded"));
  ASSERT_TRUE(reply);
  ASSERT_FALSE(*reply);
  EXPECT_EQ(reply->error().refusal, Refusal::kNotForwarded);
  EXPECT_EQ(reply->error().message.find('\n'), std::string::npos);
  auto unknown = parse_token_response(R"({"ok":false,"error":"something new"})");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->error().refusal, Refusal::kInternal);
}

// The agent machine's policy refused: the remote side says whose policy and why, and exits as a
// policy refusal does locally (kConfig: exit 2), not as "not logged in".
TEST(AgentProtocol, APolicyRefusalIsAConfigErrorNamingTheAgentMachinesPolicy) {
  auto reply = parse_token_response(format_refusal(Refusal::kPolicy, "issuer https://a.example is not allowed"));
  ASSERT_TRUE(reply);
  ASSERT_FALSE(*reply);
  EXPECT_EQ(reply->error().refusal, Refusal::kPolicy);
  const Error error = helpers::agent_refusal_error("/run/user/1/a.sock", "work", reply->error());
  EXPECT_EQ(error.code, ErrorCode::kConfig);
  EXPECT_NE(error.message.find("refused by the machine policy on the agent's machine: issuer https://a.example is not allowed"),
            std::string::npos)
      << error.message;
}

TEST(AgentProtocol, AnswersThatAreNotTokensAreRefused) {
  for (std::string_view body : {R"({"ok":true})", R"({"ok":true,"access_token":"a b","token_type":"Bearer"})",
                                R"({"ok":true,"access_token":"","token_type":"Bearer"})", "nope",
                                R"({"ok":true,"access_token":"x\n","token_type":"Bearer"})"}) {
    auto reply = parse_token_response(body);
    EXPECT_FALSE(reply) << body;
    if (!reply) {
      EXPECT_EQ(reply.error().code, ErrorCode::kServer);
    }
  }
}

}  // namespace
}  // namespace devicelogin::cli::agent
