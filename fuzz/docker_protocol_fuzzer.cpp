// The docker credential helper's parsers (cli/docker_protocol): what docker writes on stdin for
// get/erase (a server URL) and store (JSON), server URL -> registry host, and the registry map
// file setup-docker writes; and get's answer, which must be JSON whose strings are the inputs.
#include <nlohmann/json.hpp>

#include "docker_protocol.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace devicelogin;
  using namespace devicelogin::cli;
  fuzz::Input in(data, size);
  const auto one_line = [](const std::string& message) { return !message.empty() && message.find('\n') == std::string::npos; };
  const std::uint8_t which = in.byte();
  const std::string_view text = in.rest();
  switch (which % 4) {
    case 0: {
      auto url = parse_docker_server_url(text);
      if (url) {
        fuzz::check(!url->empty() && url->front() != ' ' && url->back() != ' ');
        for (unsigned char c : *url) fuzz::check(c >= 0x20 && c != 0x7f);
      } else {
        fuzz::check(one_line(url.error().message));
        fuzz::check(!text.empty() || url.error().problem == DockerInputProblem::kMissingServerUrl);
      }
      // A normalised host is its own normal form, with one credHelpers key or Docker Hub's two.
      if (auto host = docker_registry_host(text)) {
        fuzz::check(docker_registry_host(*host) == host);
        fuzz::check(docker_credential_helper_keys(*host).size() == (*host == "docker.io" ? 2U : 1U));
      }
      break;
    }
    case 1: {
      auto request = parse_docker_store_request(text);
      if (request) {
        fuzz::check(!request->server_url.empty() && !request->username.empty());
      } else {
        fuzz::check(one_line(request.error().message));
      }
      break;
    }
    case 2: {
      auto registries = parse_docker_registry_map(text);
      if (registries) {
        auto again = parse_docker_registry_map(format_docker_registry_map(*registries));
        fuzz::check(again && *again == *registries);
      } else {
        fuzz::check(one_line(registries.error()));
      }
      break;
    }
    default: {
      // get's answer for arbitrary bytes: always JSON, each string the input (invalid UTF-8 aside,
      // which becomes U+FFFD as Go writes it).
      const Secret answer = format_docker_get_answer(text, text, Secret(text));
      fuzz::check(answer.reveal().ends_with("}\n"));
      const auto doc = nlohmann::json::parse(answer.reveal(), nullptr, false);
      fuzz::check(doc.is_object() && doc.size() == 3);
      if (answer.reveal().find("\\ufffd") == std::string_view::npos) {
        for (const char* name : {"ServerURL", "Username", "Secret"}) fuzz::check(doc.at(name) == std::string(text));
      }
      const std::string list = format_docker_list({{std::string(text), std::string(text)}});
      fuzz::check(nlohmann::json::parse(list, nullptr, false).is_object());
      break;
    }
  }
  return 0;
}
