// `devicelogin api [-X METHOD] [-H 'Name: value']... [-d DATA|@FILE|@-] [--include] URL|PATH`:
// one authenticated request, in the manner of `gh api`, through Session::fetch (refreshes first,
// and once more after a 401). The token goes only to the origins the profile names (its API base
// URLs and its userinfo endpoint); any other origin is refused before anything is sent. The HTTP
// client never follows redirects, so a 3xx cannot carry the token elsewhere either. With
// DEVICELOGIN_AGENT the token comes from the agent, which applies that origin rule itself.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "devicelogin/advanced/error_builders.hpp"
#include "devicelogin/http_client.hpp"
#include "devicelogin/sanitize.hpp"
#include "helpers/agent_source.hpp"
#include "helpers/helpers.hpp"
#include "output.hpp"

namespace devicelogin::cli {
namespace {

struct ApiArgs {
  std::string profile;  // empty: the default profile
  std::string method;
  std::vector<std::string> headers;
  std::optional<std::string> data;
  bool include = false;
  bool verbose = false;
  std::string target;
};

// The exit code of an answer whose status is not 2xx (README's table).
constexpr int kHttpStatusExit = 8;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && lower(std::string(text.substr(0, prefix.size()))) == prefix;
}

// The URL without its query and fragment, for messages.
std::string without_query(std::string_view url) { return sanitize_text(url.substr(0, url.find_first_of("?#"))); }

// True when `target` begins with "scheme://" (RFC 3986 §3.1: a letter, then letters, digits, '+',
// '-' or '.'): an absolute URL. A "://" later on (a relative path whose query holds a URL, such
// as search?u=https://x) does not make one.
bool has_url_scheme(std::string_view target) {
  const std::size_t end = target.find("://");
  if (end == std::string_view::npos || end == 0 || std::isalpha(static_cast<unsigned char>(target.front())) == 0) return false;
  return std::all_of(target.begin(), target.begin() + static_cast<std::ptrdiff_t>(end), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
  });
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

Result<std::string> read_data(const std::string& data) {
  if (data.empty() || data.front() != '@') return data;
  const std::string file = data.substr(1);
  if (file == "-") {
    std::string body((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return body;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(ErrorCode::kUsage, "cannot read -d @" + sanitize_text(file) + ": " + std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
  std::ostringstream body;
  body << in.rdbuf();
  return body.str();
}

// Prints the answer as the command does; its exit code.
int print_response(const ApiArgs& args, const HttpResponse& response) {
  std::string out;
  if (args.include) {
    out = "HTTP " + std::to_string(response.status) + "\r\n";
    for (const auto& [name, value] : response.headers) out.append(name).append(": ").append(value).append("\r\n");
    out += "\r\n";
  }
  if (!write_stdout(out) || !write_stdout(response.body.reveal())) return 1;
  if (response.status >= 200 && response.status < 300) return 0;
  std::string line = "devicelogin api: HTTP " + std::to_string(response.status) + " from " + without_query(args.target);
  if (response.status >= 300 && response.status < 400) line += " (redirects are not followed)";
  say(line);
  return kHttpStatusExit;
}

// `api` on a remote host (DEVICELOGIN_AGENT): a full URL only (the API base URL a path would
// resolve against is the agent's), a token the agent hands out for that URL, sent once as a
// Bearer token (a DPoP-bound profile is not forwarded: its key stays with the agent). No retry
// after a 401: the agent refreshes when the token would not live min_ttl more seconds.
int run_api_through_agent(const ApiArgs& args, const std::string& socket_path, HttpRequest request, bool has_content_type) {
  auto usage = [](std::string message) { return report_error("api", Error{ErrorCode::kUsage, std::move(message), "", 0}); };
  if (!starts_with_nocase(args.target, "https://") && !starts_with_nocase(args.target, "http://")) {
    return usage("through the agent (DEVICELOGIN_AGENT), api needs a full http or https URL: the profile's API base URL "
                 "stays on the agent's machine");
  }
  request.url = args.target;
  // The rules Session::fetch applies for a local profile, which this path does not go through.
  for (const auto& [name, value] : request.headers) {
    for (std::string_view reserved : {"host", "proxy-authorization", "cookie", "dpop"}) {
      if (lower(name) == reserved) {
        return usage("-H " + sanitize_text(name) + ": this header decides where or as whom the token goes; pass no such header");
      }
    }
  }
  if (args.data && (request.method == "GET" || request.method == "HEAD")) {
    return usage("-d: a " + request.method + " request has no body; pass -X POST (or another method)");
  }
  if (auto allowed = check_url_policy(request.url, "the API URL"); !allowed) return report_error("api", allowed.error());
  helpers::AgentTokenSource source(socket_path);
  source.set_destination(request.url);
  auto token = source.access_token(args.profile, 60);
  if (!token) return report_error("api", token.error().error);
  if (auto refused = helpers::bearer_only(*token, "api")) {
    token->wipe();
    return report_error("api", *refused);
  }
  if (args.data) {
    auto body = read_data(*args.data);
    if (!body) {
      token->wipe();
      return report_error("api", body.error());
    }
    if (!has_content_type) request.headers.emplace_back("Content-Type", "application/json");
    request.body = Secret(std::move(*body));
  }
  request.headers.emplace_back("Authorization", std::string(token->authorization().reveal()));
  token->wipe();
  auto client = make_curl_http_client(HttpOptions{});
  auto response = client->send(request);
  // The header held the token: wiped before anything is reported.
  for (auto& [name, value] : request.headers) {
    if (name == "Authorization") wipe_string(value);
  }
  if (!response) return report_error("api", response.error());
  return print_response(args, *response);
}

int run_api(const ApiArgs& args) {
  auto usage = [](std::string message) { return report_error("api", Error{ErrorCode::kUsage, std::move(message), "", 0}); };
  HttpRequest request;
  // Checked here, before any work (no session is opened for a malformed command), in the CLI's
  // words; Session::fetch applies the same rules (and the reserved headers: Host, Cookie, ...) for
  // every caller of the library.
  request.method = args.method.empty() ? (args.data ? "POST" : "GET") : args.method;
  for (char c : request.method) {
    if (c < 'A' || c > 'Z') return usage("-X needs an HTTP method in capitals, such as GET or POST");
  }
  bool has_content_type = false;
  for (const std::string& header : args.headers) {
    const std::size_t colon = header.find(':');
    std::string name = header.substr(0, colon);
    if (colon == std::string::npos || name.empty() ||
        std::find_if(name.begin(), name.end(), [](char c) { return !is_token_char(c); }) != name.end()) {
      // The argument is not shown: it may hold a credential (a mistyped `-H 'X-Api-Key secret'`).
      return usage("-H needs 'Name: value' with a name of letters, digits and !#$%&'*+-.^_`|~ before the ':'");
    }
    std::string value = header.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (value.find_first_of("\r\n") != std::string::npos) return usage("-H " + sanitize_text(name) + ": the value has a line break");
    if (lower(name) == "authorization") return usage("-H Authorization: the token's header is added by devicelogin; pass no other");
    if (lower(name) == "content-type") has_content_type = true;
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  if (auto refused = helper_refused_by_policy("api")) return report_error("api", *refused);
  // Through an agent the profile stays on the agent's machine: the agent checks the URL against
  // the profile's allowed origins before it hands out a token for it.
  if (auto agent = helpers::agent_socket_from_environment()) {
    return run_api_through_agent(args, *agent, std::move(request), has_content_type);
  }
  auto session = open_session(args.profile, args.verbose, "api");
  if (!session) return report_error("api", session.error());
  // A profile never signed in is "not logged in" (5), before its missing API base URL.
  if (auto status = session->status(); !status) return report_error("api", status.error());
  const Profile& profile = session->profile();

  // The URL: absolute, or a path under the profile's first API base URL.
  if (starts_with_nocase(args.target, "https://") || starts_with_nocase(args.target, "http://")) {
    request.url = args.target;
  } else if (has_url_scheme(args.target)) {
    return usage("only http and https URLs can be called: " + without_query(args.target));
  } else if (profile.api_urls.empty()) {
    return report_error("api", Error{ErrorCode::kUsage,
                                     "profile \"" + profile.name + "\" has no API base URL to resolve " +
                                         sanitize_text(args.target) + " against; run: devicelogin login --profile " +
                                         profile.name + " --api-url URL, or give a full URL",
                                     "", 0});
  } else {
    std::string base = profile.api_urls.front();
    while (!base.empty() && base.back() == '/') base.pop_back();
    request.url = base + (args.target.starts_with('/') ? "" : "/") + args.target;
  }

  // The credential-host rule is the facade's (fetch() enforces it too): asked here so that a
  // refused URL fails before any request body is read.
  if (auto allowed = session->check_token_destination(request.url); !allowed) return report_error("api", allowed.error());

  if (args.data) {
    auto body = read_data(*args.data);
    if (!body) return report_error("api", body.error());
    if (!has_content_type) request.headers.emplace_back("Content-Type", "application/json");
    request.body = Secret(std::move(*body));
  }
  auto response = session->fetch(std::move(request));
  if (!response) return report_error("api", response.error());
  return print_response(args, *response);
}

}  // namespace

void setup_api(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ApiArgs>();
  CLI::App* cmd = app.add_subcommand(
      "api",
      "Send one request with the access token (refreshed first, and once more after a 401) and print the body. "
      "A PATH resolves against the profile's first API base URL (login --api-url); the token goes only to the "
      "profile's API base URLs and userinfo endpoint (with DEVICELOGIN_AGENT: a full URL, which the agent checks). "
      "Exit 0 for 2xx, 8 for any other status");
  add_profile_flag(*cmd, args->profile);
  cmd->add_option("-X,--method", args->method, "HTTP method (default GET, or POST with -d)");
  cmd->add_option("-H,--header", args->headers, "A request header 'Name: value' (repeatable)")->allow_extra_args(false);
  cmd->add_option("-d,--data", args->data, "Request body: DATA, @FILE, or @- for stdin (Content-Type application/json unless -H sets one)");
  cmd->add_flag("-i,--include", args->include, "Print the status line and response headers before the body");
  add_verbose_flag(*cmd, args->verbose);
  cmd->add_option("target", args->target, "A URL, or a path under the profile's API base URL")->required();
  cmd->callback([args, &exit_code] { exit_code = run_api(*args); });
}

}  // namespace devicelogin::cli
