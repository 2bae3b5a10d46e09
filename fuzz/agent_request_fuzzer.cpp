// The token agent's protocol (cli/agent_protocol): the request parser the agent runs on what any
// process of its user sends, the frame header, and the client's parsers of the agent's answers.
#include <nlohmann/json.hpp>

#include "agent_protocol.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  using namespace devicelogin::cli;
  fuzz::Input in(data, size);
  const auto one_line = [](const std::string& message) { return !message.empty() && message.find('\n') == std::string::npos; };
  const std::uint8_t which = in.byte();
  const std::string_view text = in.rest();
  switch (which % 3) {
    case 0: {
      // A request: accepted ones are within the protocol's limits and re-encode to themselves;
      // refusals are one kUsage line that does not echo the input.
      auto request = agent::parse_request(text);
      if (request) {
        fuzz::check(text.size() <= agent::kMaxRequestBytes);
        fuzz::check(request->min_ttl >= 0 && request->min_ttl <= agent::kMaxMinTtl);
        fuzz::check(request->url.size() <= agent::kMaxUrlBytes);
        for (char c : request->url) fuzz::check(c > 0x20 && c < 0x7f);
        auto again = agent::parse_request(agent::format_request(*request));
        fuzz::check(again && again->operation == request->operation && again->profile == request->profile);
        if (request->operation == agent::Operation::kToken) fuzz::check(again->min_ttl == request->min_ttl && again->url == request->url);
      } else {
        fuzz::check(request.error().code == ErrorCode::kUsage && one_line(request.error().message));
        fuzz::check(text.size() < 8 || request.error().message.find(text) == std::string::npos);
      }
      // The frame header round-trips any length.
      const auto length = static_cast<std::uint32_t>(text.size() * 2654435761U);
      fuzz::check(agent::frame_length(agent::frame_header(length)) == length);
      break;
    }
    case 1: {
      // A token answer: a token is printable ASCII without spaces; refusals are one line.
      auto reply = agent::parse_token_response(text);
      if (reply && *reply) {
        fuzz::check(!(*reply)->empty());
        for (char c : (*reply)->reveal()) fuzz::check(c > 0x20 && c < 0x7f);
        auto again = agent::parse_token_response(agent::format_token_response(**reply).reveal());
        fuzz::check(again && *again && (*again)->equals((*reply)->value) && (*again)->token_type == (*reply)->token_type);
      } else if (reply) {
        fuzz::check(reply->error().message.find('\n') == std::string::npos);
        fuzz::check(nlohmann::json::parse(agent::format_refusal(reply->error().refusal, reply->error().message), nullptr, false).is_object());
      } else {
        fuzz::check(one_line(reply.error().message));
      }
      break;
    }
    default: {
      auto reply = agent::parse_status_response(text);
      if (reply && *reply) {
        fuzz::check(nlohmann::json::parse(agent::format_status_response(**reply), nullptr, false).is_object());
      } else if (!reply) {
        fuzz::check(one_line(reply.error().message));
      }
      break;
    }
  }
  return 0;
}
