#include "docker_protocol.hpp"

#include "helpers/shown.hpp"
#include "devicelogin/sanitize.hpp"

#include <nlohmann/json.hpp>

namespace devicelogin::cli {
namespace {

using nlohmann::json;

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::unexpected<DockerInputError> input_error(DockerInputProblem problem, std::string message) {
  return std::unexpected(DockerInputError{problem, std::move(message)});
}

// The length of the UTF-8 sequence at `i` when it is one Go's utf8.DecodeRuneInString accepts
// (no overlong form, no surrogate, at most U+10FFFF), else 0.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t at) -> unsigned char {
    return at < text.size() ? static_cast<unsigned char>(text[at]) : static_cast<unsigned char>(0);
  };
  const unsigned char lead = byte(i);
  const auto continuation = [&](std::size_t at) { return byte(at) >= 0x80 && byte(at) <= 0xbf; };
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  std::size_t length = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;  // U+D800..U+DFFF are surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (!continuation(i + k)) return 0;
  }
  return length;
}

// Go's encoding/json string encoder (with its default HTML escaping), writing through `sink`:
// runs of bytes that need no escape are handed over as slices of `value`, never copied.
template <class Sink>
void escape_like_go(std::string_view value, Sink&& sink) {
  static constexpr char kHex[] = "0123456789abcdef";
  sink("\"");
  std::size_t start = 0;
  std::size_t i = 0;
  const auto flush = [&] {
    if (i > start) sink(value.substr(start, i - start));
  };
  while (i < value.size()) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x80) {
      if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
        ++i;
        continue;
      }
      flush();
      switch (c) {
        case '"': sink("\\\""); break;
        case '\\': sink("\\\\"); break;
        case '\b': sink("\\b"); break;
        case '\f': sink("\\f"); break;
        case '\n': sink("\\n"); break;
        case '\r': sink("\\r"); break;
        case '\t': sink("\\t"); break;
        default: {
          const char escape[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          sink(std::string_view(escape, sizeof escape));
        }
      }
      start = ++i;
      continue;
    }
    const std::size_t length = utf8_sequence_length(value, i);
    if (length == 0) {
      flush();
      sink("\\ufffd");
      start = ++i;
      continue;
    }
    // U+2028 and U+2029 (E2 80 A8/A9), which JavaScript takes for line ends.
    if (length == 3 && c == 0xe2 && static_cast<unsigned char>(value[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(value[i + 2]) & 0xfe) == 0xa8) {
      flush();
      sink(static_cast<unsigned char>(value[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029");
      i += 3;
      start = i;
      continue;
    }
    i += length;
  }
  flush();
  sink("\"");
}

// ASCII lower case (registry hosts; Go's case-insensitive member names, for ASCII names).
std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The member Go's decoder would fill a field named `name` from: the exact name, else the last
// member whose name equals it ignoring (ASCII) case.
json* find_member(json& object, std::string_view name) {
  if (auto it = object.find(std::string(name)); it != object.end()) return &*it;
  json* found = nullptr;
  const std::string wanted = ascii_lower(name);
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (ascii_lower(it.key()) == wanted) found = &it.value();
  }
  return found;
}

// Overwrites every string value in `value` (the parsed copy of a store request holds the secret).
// Recursive on purpose: the input was refused unless it nests at most kMaxJsonNesting levels.
void wipe_json_strings(json& value) {  // NOLINT(misc-no-recursion): bounded by kMaxJsonNesting
  if (value.is_string()) {
    wipe_string(value.get_ref<std::string&>());
  } else if (value.is_structured()) {
    for (auto& element : value) wipe_json_strings(element);
  }
}

}  // namespace

bool parse_port(std::string_view text, unsigned& value) {
  if (text.empty() || text.size() > 5) return false;
  value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535;
}

bool valid_lower_host_name(std::string_view name, bool underscore) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (underscore && c == '_')) {
      ++label;
    } else {
      return false;
    }
  }
  return label > 0;
}

std::string_view docker_protocol_message(DockerInputProblem problem) {
  switch (problem) {
    case DockerInputProblem::kMissingServerUrl: return kDockerMissingServerUrlMessage;
    case DockerInputProblem::kMissingUsername: return kDockerMissingUsernameMessage;
    case DockerInputProblem::kMalformed: break;
  }
  return {};
}

std::expected<std::string, DockerInputError> parse_docker_server_url(std::string_view input) {
  if (input.size() > kDockerMaxInput) return input_error(DockerInputProblem::kMalformed, "more than 64 KiB of input");
  if (input.find('\0') != std::string_view::npos) return input_error(DockerInputProblem::kMalformed, "a NUL byte in the input");
  while (!input.empty() && is_space(static_cast<unsigned char>(input.front()))) input.remove_prefix(1);
  while (!input.empty() && is_space(static_cast<unsigned char>(input.back()))) input.remove_suffix(1);
  if (input.empty()) return input_error(DockerInputProblem::kMissingServerUrl, "the input names no server URL");
  for (char c : input) {
    if (c == '\n' || c == '\r') {
      return input_error(DockerInputProblem::kMalformed, "more than one line of input (expected a server URL)");
    }
    if (is_control(static_cast<unsigned char>(c))) {
      return input_error(DockerInputProblem::kMalformed, "a control character in the server URL");
    }
  }
  return std::string(input);
}

std::expected<DockerStoreRequest, DockerInputError> parse_docker_store_request(std::string_view input) {
  if (input.size() > kDockerMaxInput) return input_error(DockerInputProblem::kMalformed, "more than 64 KiB of input");
  // (a parse error's position or text is never shown: the input holds a secret)
  json doc = json_nesting_within(input) ? json::parse(input, nullptr, false) : json(json::value_t::discarded);
  if (doc.is_discarded()) return input_error(DockerInputProblem::kMalformed, "the input is not JSON");
  struct Wipe {
    json& doc;
    ~Wipe() { wipe_json_strings(doc); }  // NOLINT(bugprone-exception-escape): get_ref only after is_string()
  } wipe{doc};
  if (!doc.is_object()) return input_error(DockerInputProblem::kMalformed, "the input is not a JSON object");
  DockerStoreRequest request;
  std::string* fields[] = {&request.server_url, &request.username, nullptr};
  constexpr std::string_view kNames[] = {"ServerURL", "Username", "Secret"};
  for (std::size_t i = 0; i < 3; ++i) {
    json* member = find_member(doc, kNames[i]);
    if (member == nullptr || member->is_null()) continue;  // as Go leaves the field empty
    if (!member->is_string()) {
      return input_error(DockerInputProblem::kMalformed, "the input's " + std::string(kNames[i]) + " is not a string");
    }
    auto& text = member->get_ref<std::string&>();
    if (fields[i] != nullptr) {
      *fields[i] = text;
    } else {
      request.secret = Secret(std::string_view(text));
    }
  }
  if (request.server_url.empty()) return input_error(DockerInputProblem::kMissingServerUrl, "the input names no ServerURL");
  if (request.username.empty()) return input_error(DockerInputProblem::kMissingUsername, "the input names no Username");
  return request;
}

std::optional<std::string> docker_registry_host(std::string_view server_url) {
  for (char c : server_url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  std::string_view rest = server_url;
  if (const std::size_t scheme_end = rest.find("://"); scheme_end != std::string_view::npos) {
    const std::string scheme = ascii_lower(rest.substr(0, scheme_end));
    if (scheme != "https" && scheme != "http") return std::nullopt;
    rest.remove_prefix(scheme_end + 3);
  } else if (rest.starts_with("//")) {
    rest.remove_prefix(2);
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.empty() || rest.find('@') != std::string_view::npos) return std::nullopt;
  std::string host = ascii_lower(rest);
  std::string_view name = host;
  std::string_view port;
  if (host.front() == '[') {
    // An IPv6 literal: [hex:...] (with an IPv4 tail allowed), then an optional :port.
    const std::size_t close = host.find(']');
    if (close == std::string::npos || close == 1) return std::nullopt;
    for (char c : std::string_view(host).substr(1, close - 1)) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.')) return std::nullopt;
    }
    const std::string_view after = std::string_view(host).substr(close + 1);
    if (!after.empty()) {
      if (unsigned value = 0; after.front() != ':' || !parse_port(after.substr(1), value)) return std::nullopt;
    }
    return host;
  }
  if (const std::size_t colon = host.find(':'); colon != std::string::npos) {
    name = std::string_view(host).substr(0, colon);
    port = std::string_view(host).substr(colon + 1);
    if (unsigned value = 0; !parse_port(port, value)) return std::nullopt;
  }
  if (!valid_lower_host_name(name, false)) return std::nullopt;
  // Docker Hub's names (docker's own key for it is "https://index.docker.io/v1/").
  if (port.empty() &&
      (name == "docker.io" || name == "index.docker.io" || name == "registry-1.docker.io" || name == "registry.hub.docker.com")) {
    return std::string("docker.io");
  }
  return host;
}

std::vector<std::string> docker_credential_helper_keys(std::string_view registry_host) {
  if (registry_host == "docker.io") return {"https://index.docker.io/v1/", "docker.io"};
  return {std::string(registry_host)};
}

void append_docker_json_string(std::string& out, std::string_view value) {
  escape_like_go(value, [&out](std::string_view piece) { out.append(piece); });
}

void append_docker_json_string(Secret& out, std::string_view value) {
  escape_like_go(value, [&out](std::string_view piece) { out.append(piece); });
}

Secret format_docker_get_answer(std::string_view server_url, std::string_view username, const Secret& secret) {
  Secret out;
  // Room for the worst case (every byte escaped as \u00XX), so that the buffer never moves.
  out.reserve(64 + 6 * (server_url.size() + username.size() + secret.size()));
  out.append("{\"ServerURL\":");
  append_docker_json_string(out, server_url);
  out.append(",\"Username\":");
  append_docker_json_string(out, username);
  out.append(",\"Secret\":");
  append_docker_json_string(out, secret.reveal());
  out.append("}\n");
  return out;
}

std::string format_docker_list(const std::map<std::string, std::string>& usernames) {
  std::string out = "{";
  for (const auto& [url, username] : usernames) {
    if (out.size() > 1) out += ',';
    append_docker_json_string(out, url);
    out += ':';
    append_docker_json_string(out, username);
  }
  out += "}\n";
  return out;
}

std::string format_docker_version(std::string_view version) {
  return "docker-credential-devicelogin (devicelogin) " + std::string(version) + "\n";
}

std::string_view docker_username_for(const DockerRegistryEntry& entry) {
  return entry.username.empty() ? kDockerDefaultUsername : std::string_view(entry.username);
}

std::expected<DockerRegistryMap, std::string> parse_docker_registry_map(std::string_view text) {
  const json doc = json_nesting_within(text) ? json::parse(text, nullptr, false) : json(json::value_t::discarded);
  if (doc.is_discarded() || !doc.is_object()) return std::unexpected("not a JSON object");
  DockerRegistryMap registries;
  const auto found = doc.find("registries");
  if (found == doc.end()) return registries;
  if (!found->is_object()) return std::unexpected("\"registries\" is not an object");
  for (const auto& [host, entry] : found->items()) {
    if (docker_registry_host(host) != host) {
      return std::unexpected("\"" + shown_word(host) + "\" is not a registry host");
    }
    if (!entry.is_object()) return std::unexpected("the entry of " + host + " is not an object");
    const auto profile = entry.find("profile");
    if (profile == entry.end() || !profile->is_string() || profile->get_ref<const std::string&>().empty()) {
      return std::unexpected("the entry of " + host + " names no profile");
    }
    DockerRegistryEntry parsed{profile->get<std::string>(), ""};
    if (const auto username = entry.find("username"); username != entry.end() && !username->is_null()) {
      if (!username->is_string()) return std::unexpected("the username of " + host + " is not a string");
      parsed.username = username->get<std::string>();
      if (auto problem = docker_username_problem(parsed.username)) return std::unexpected("the username of " + host + ": " + *problem);
    }
    registries.emplace(host, std::move(parsed));
  }
  return registries;
}

std::string format_docker_registry_map(const DockerRegistryMap& registries) {
  json entries = json::object();
  for (const auto& [host, entry] : registries) {
    json item = {{"profile", entry.profile}};
    if (!entry.username.empty()) item["username"] = entry.username;
    entries[host] = std::move(item);
  }
  return json{{"registries", std::move(entries)}}.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::optional<std::string> docker_username_problem(std::string_view username) {
  if (username.empty()) return "the username is empty";
  if (username.size() > kDockerMaxUsername) return "the username is longer than 256 bytes";
  for (char c : username) {
    if (is_control(static_cast<unsigned char>(c))) return "the username has a control character";
  }
  if (username == kDockerIdentityTokenUsername) {
    return "\"<token>\" makes docker take the secret for an identity token (a refresh token for the registry), not a password";
  }
  return std::nullopt;
}

}  // namespace devicelogin::cli
