#include "agent_protocol.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/secret_json.hpp"
#include "devicelogin/profile.hpp"
#include "devicelogin/sanitize.hpp"

namespace devicelogin::cli::agent {

namespace {

struct RefusalNameEntry {
  Refusal refusal;
  std::string_view name;
};
constexpr RefusalNameEntry kRefusalNames[] = {
    {Refusal::kBadRequest, "bad_request"},
    {Refusal::kNotForwarded, "not_forwarded"},
    {Refusal::kDenied, "denied"},
    {Refusal::kBearerOnly, "bearer_only"},
    {Refusal::kLifetime, "lifetime"},
    {Refusal::kDestination, "destination"},
    {Refusal::kPolicy, "policy"},
    {Refusal::kNotLoggedIn, "not_logged_in"},
    {Refusal::kReloginRequired, "relogin_required"},
    {Refusal::kNetwork, "network"},
    {Refusal::kServer, "server"},
    {Refusal::kStorage, "storage"},
    {Refusal::kBusy, "busy"},
    {Refusal::kTimeout, "timeout"},
    {Refusal::kInternal, "internal"},
};

Error bad(std::string message) { return Error{ErrorCode::kUsage, std::move(message), "", 0}; }
Error malformed_response() {
  return Error{ErrorCode::kServer, "the agent's answer is not one this version understands", "", 0};
}

// A non-negative whole number that fits in a long long, as nlohmann stores JSON integers.
std::optional<long long> whole_number(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto n = value.get<std::uint64_t>();
    if (n > static_cast<std::uint64_t>(kMaxMinTtl)) return std::nullopt;
    return static_cast<long long>(n);
  }
  if (value.is_number_integer()) {
    const auto n = value.get<std::int64_t>();
    if (n < 0 || n > kMaxMinTtl) return std::nullopt;
    return n;
  }
  return std::nullopt;
}

// The refusal of a parsed response, when it is one.
std::optional<RefusalReply> refusal_of(const core::SecretJson& doc) {
  const auto ok = doc.find("ok");
  if (ok == doc.end() || !ok->is_boolean() || ok->get<bool>()) return std::nullopt;
  RefusalReply reply;
  if (const auto error = doc.find("error"); error != doc.end() && error->is_string()) {
    const auto& name = error->get_ref<const WipingString&>();
    reply.refusal = refusal_from_name(std::string_view(name.data(), name.size())).value_or(Refusal::kInternal);
  }
  if (const auto message = doc.find("message"); message != doc.end() && message->is_string()) {
    const auto& text = message->get_ref<const WipingString&>();
    reply.message = sanitize_text(std::string_view(text.data(), text.size()));
  }
  return reply;
}

std::optional<long long> optional_time(const core::SecretJson& doc, const char* name) {
  const auto value = doc.find(name);
  if (value == doc.end() || !value->is_number_integer()) return std::nullopt;
  return value->get<long long>();
}

// An absolute http or https URL of printable ASCII without spaces, within kMaxUrlBytes. Whether
// the profile allows its token there is the agent's check (Session::check_token_destination).
bool acceptable_url(std::string_view url) {
  if (url.empty() || url.size() > kMaxUrlBytes) return false;
  for (char c : url) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  std::string scheme(url.substr(0, url.find("://")));
  if (scheme.size() == url.size()) return false;
  for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return scheme == "https" || scheme == "http";
}

}  // namespace

std::string_view refusal_name(Refusal refusal) {
  for (const auto& entry : kRefusalNames) {
    if (entry.refusal == refusal) return entry.name;
  }
  return "internal";
}

std::optional<Refusal> refusal_from_name(std::string_view name) {
  for (const auto& entry : kRefusalNames) {
    if (entry.name == name) return entry.refusal;
  }
  return std::nullopt;
}

std::string frame_header(std::uint32_t length) {
  std::string header(kFrameHeaderBytes, '\0');
  header[0] = static_cast<char>((length >> 24) & 0xff);
  header[1] = static_cast<char>((length >> 16) & 0xff);
  header[2] = static_cast<char>((length >> 8) & 0xff);
  header[3] = static_cast<char>(length & 0xff);
  return header;
}

std::uint32_t frame_length(std::string_view header) {
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < kFrameHeaderBytes && i < header.size(); ++i) {
    length = (length << 8) | static_cast<unsigned char>(header[i]);
  }
  return length;
}

Result<Request> parse_request(std::string_view body) {
  if (body.size() > kMaxRequestBytes) return std::unexpected(bad("the request is larger than an agent request can be"));
  if (!json_nesting_within(body)) return std::unexpected(bad("the request is not a JSON object"));
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return std::unexpected(bad("the request is not a JSON object"));
  Request request;
  bool has_op = false;
  for (const auto& [name, value] : doc.items()) {
    if (name == "op") {
      if (!value.is_string()) return std::unexpected(bad("the request's op is not a string"));
      const auto& op = value.get_ref<const std::string&>();
      if (op == "token") {
        request.operation = Operation::kToken;
      } else if (op == "status") {
        request.operation = Operation::kStatus;
      } else {
        return std::unexpected(bad("the agent answers only the operations token and status"));
      }
      has_op = true;
    } else if (name == "profile") {
      if (!value.is_string()) return std::unexpected(bad("the request's profile is not a string"));
      const auto& profile = value.get_ref<const std::string&>();
      if (!profile.empty() && !valid_profile_name(profile)) return std::unexpected(bad("the request's profile is not a valid profile name"));
      request.profile = profile;
    } else if (name == "min_ttl") {
      const auto seconds = whole_number(value);
      if (!seconds) return std::unexpected(bad("the request's min_ttl is not a whole number of seconds from 0 to a year"));
      request.min_ttl = *seconds;
    } else if (name == "url") {
      if (!value.is_string() || !acceptable_url(value.get_ref<const std::string&>())) {
        return std::unexpected(bad("the request's url is not an http or https URL of at most " + std::to_string(kMaxUrlBytes) +
                                   " printable characters"));
      }
      request.url = value.get_ref<const std::string&>();
    } else {
      return std::unexpected(bad("the request has a member the protocol does not have"));
    }
  }
  if (!has_op) return std::unexpected(bad("the request names no op"));
  if (request.operation == Operation::kStatus && (!request.profile.empty() || doc.contains("min_ttl") || doc.contains("url"))) {
    return std::unexpected(bad("a status request takes no profile, min_ttl or url"));
  }
  return request;
}

std::string format_request(const Request& request) {
  nlohmann::json doc;
  if (request.operation == Operation::kStatus) {
    doc["op"] = "status";
  } else {
    doc["op"] = "token";
    if (!request.profile.empty()) doc["profile"] = request.profile;
    doc["min_ttl"] = request.min_ttl;
    if (!request.url.empty()) doc["url"] = request.url;
  }
  return doc.dump();
}

Secret format_token_response(const AccessToken& token) {
  core::SecretJson doc = core::SecretJson::object();
  doc["ok"] = true;
  doc["access_token"] = WipingString(token.reveal());
  doc["token_type"] = WipingString(token.token_type);
  if (token.expires_at) doc["expires_at"] = *token.expires_at;
  return Secret(doc.dump());
}

std::string format_status_response(const AgentStatus& status) {
  nlohmann::json doc;
  doc["ok"] = true;
  doc["agent"] = status.version;
  doc["confirm"] = status.confirm;
  doc["max_lifetime"] = status.max_lifetime ? nlohmann::json(*status.max_lifetime) : nlohmann::json(nullptr);
  doc["profiles"] = nlohmann::json::array();
  for (const auto& profile : status.profiles) {
    nlohmann::json entry;
    entry["profile"] = profile.profile;
    entry["logged_in"] = profile.logged_in;
    entry["expires_at"] = profile.expires_at ? nlohmann::json(*profile.expires_at) : nlohmann::json(nullptr);
    doc["profiles"].push_back(std::move(entry));
  }
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string format_refusal(Refusal refusal, std::string_view message) {
  nlohmann::json doc;
  doc["ok"] = false;
  doc["error"] = std::string(refusal_name(refusal));
  doc["message"] = sanitize_text(message);
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::expected<AccessToken, RefusalReply>> parse_token_response(std::string_view body) {
  if (!json_nesting_within(body)) return std::unexpected(malformed_response());
  const auto doc = core::parse_secret_json(body);
  if (!doc || !doc->is_object()) return std::unexpected(malformed_response());
  using Reply = std::expected<AccessToken, RefusalReply>;
  if (auto refusal = refusal_of(*doc)) return Reply(std::unexpect, std::move(*refusal));
  const auto ok = doc->find("ok");
  const auto value = doc->find("access_token");
  const auto type = doc->find("token_type");
  if (ok == doc->end() || !ok->is_boolean() || value == doc->end() || !value->is_string() || type == doc->end() ||
      !type->is_string()) {
    return std::unexpected(malformed_response());
  }
  const auto& token_text = value->get_ref<const WipingString&>();
  const auto& type_text = type->get_ref<const WipingString&>();
  // A token goes into headers and environment variables: printable ASCII only (RFC 6750 §2.1's
  // b64token and then some), never empty.
  if (token_text.empty()) return std::unexpected(malformed_response());
  for (char c : token_text) {
    if (c <= 0x20 || c >= 0x7f) return std::unexpected(malformed_response());
  }
  if (type_text.empty() || type_text.size() > 64) return std::unexpected(malformed_response());
  for (char c : type_text) {
    if (c <= 0x20 || c >= 0x7f) return std::unexpected(malformed_response());
  }
  AccessToken token;
  token.value = Secret(std::string_view(token_text.data(), token_text.size()));
  token.token_type = std::string(type_text.data(), type_text.size());
  token.expires_at = optional_time(*doc, "expires_at");
  return Reply(std::move(token));
}

Result<std::expected<AgentStatus, RefusalReply>> parse_status_response(std::string_view body) {
  if (!json_nesting_within(body)) return std::unexpected(malformed_response());
  const auto doc = core::parse_secret_json(body);
  if (!doc || !doc->is_object()) return std::unexpected(malformed_response());
  using Reply = std::expected<AgentStatus, RefusalReply>;
  if (auto refusal = refusal_of(*doc)) return Reply(std::unexpect, std::move(*refusal));
  AgentStatus status;
  const auto agent = doc->find("agent");
  const auto profiles = doc->find("profiles");
  if (agent == doc->end() || !agent->is_string() || profiles == doc->end() || !profiles->is_array()) {
    return std::unexpected(malformed_response());
  }
  const auto& version = agent->get_ref<const WipingString&>();
  status.version = sanitize_text(std::string_view(version.data(), version.size()));
  if (const auto confirm = doc->find("confirm"); confirm != doc->end() && confirm->is_boolean()) status.confirm = confirm->get<bool>();
  status.max_lifetime = optional_time(*doc, "max_lifetime");
  for (const auto& entry : *profiles) {
    if (!entry.is_object()) return std::unexpected(malformed_response());
    const auto name = entry.find("profile");
    if (name == entry.end() || !name->is_string()) return std::unexpected(malformed_response());
    ForwardedProfile profile;
    const auto& name_text = name->get_ref<const WipingString&>();
    profile.profile = sanitize_text(std::string_view(name_text.data(), name_text.size()));
    if (const auto in = entry.find("logged_in"); in != entry.end() && in->is_boolean()) profile.logged_in = in->get<bool>();
    profile.expires_at = optional_time(entry, "expires_at");
    status.profiles.push_back(std::move(profile));
  }
  return Reply(std::move(status));
}

long long monotonic_ms() {
  timespec now{};
  (void)::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

namespace {

// Waits until `fd` is ready for `events` or the deadline passes.
IoStatus wait_for(int fd, short events, long long deadline_ms) {
  while (true) {
    const long long left = deadline_ms - monotonic_ms();
    if (left <= 0) return IoStatus::kTimeout;
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left > 60000 ? 60000 : left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return IoStatus::kError;
    if (ready == 0) continue;  // the loop checks the deadline
    return IoStatus::kOk;
  }
}

// Reads exactly `size` bytes into `out` (appended).
IoStatus read_exactly(int fd, std::size_t size, long long deadline_ms, WipingString& out) {
  char buffer[4096];
  while (size > 0) {
    if (const IoStatus ready = wait_for(fd, POLLIN, deadline_ms); ready != IoStatus::kOk) return ready;
    const ssize_t n = ::recv(fd, buffer, size < sizeof buffer ? size : sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) {
      explicit_bzero(buffer, sizeof buffer);
      return errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
    }
    if (n == 0) {
      explicit_bzero(buffer, sizeof buffer);
      return IoStatus::kClosed;
    }
    out.append(buffer, static_cast<std::size_t>(n));
    size -= static_cast<std::size_t>(n);
  }
  explicit_bzero(buffer, sizeof buffer);
  return IoStatus::kOk;
}

IoStatus write_all(int fd, std::string_view data, long long deadline_ms) {
  while (!data.empty()) {
    if (const IoStatus ready = wait_for(fd, POLLOUT, deadline_ms); ready != IoStatus::kOk) return ready;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) return errno == EPIPE || errno == ECONNRESET ? IoStatus::kClosed : IoStatus::kError;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return IoStatus::kOk;
}

}  // namespace

IoStatus read_frame(int fd, std::size_t max_bytes, long long deadline_ms, WipingString& body) {
  WipingString header;
  if (const IoStatus status = read_exactly(fd, kFrameHeaderBytes, deadline_ms, header); status != IoStatus::kOk) return status;
  const std::uint32_t length = frame_length(std::string_view(header.data(), header.size()));
  if (length > max_bytes) return IoStatus::kTooLarge;
  body.reserve(body.size() + length);
  return read_exactly(fd, length, deadline_ms, body);
}

IoStatus write_frame(int fd, std::string_view body, long long deadline_ms) {
  if (body.size() > UINT32_MAX) return IoStatus::kTooLarge;
  if (const IoStatus status = write_all(fd, frame_header(static_cast<std::uint32_t>(body.size())), deadline_ms); status != IoStatus::kOk) {
    return status;
  }
  return write_all(fd, body, deadline_ms);
}

}  // namespace devicelogin::cli::agent
