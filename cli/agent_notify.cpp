// The agent's desktop confirmation over sd-bus (libsystemd), when the build has it.
#include "agent_notify.hpp"

#include <cstdlib>

#if DEVICELOGIN_DESKTOP_CONFIRM
#include <systemd/sd-bus.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "agent_protocol.hpp"
#endif

namespace devicelogin::cli {

#if DEVICELOGIN_DESKTOP_CONFIRM

namespace {

bool set(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): nothing sets the environment meanwhile
  return value != nullptr && *value != '\0';
}

constexpr const char* kService = "org.freedesktop.Notifications";
constexpr const char* kPath = "/org/freedesktop/Notifications";
constexpr const char* kInterface = "org.freedesktop.Notifications";

// The signals seen on the bus: who sent them, for which notification, and what they say.
struct Event {
  std::string sender;
  std::uint32_t id = 0;
  std::string action;  // ActionInvoked's key; empty for NotificationClosed
  bool closed = false;
};

int on_signal(sd_bus_message* message, void* userdata, sd_bus_error* /*error*/) {
  auto* events = static_cast<std::vector<Event>*>(userdata);
  Event event;
  const char* sender = sd_bus_message_get_sender(message);
  event.sender = sender != nullptr ? sender : "";
  if (sd_bus_message_is_signal(message, kInterface, "ActionInvoked") > 0) {
    const char* key = nullptr;
    if (sd_bus_message_read(message, "us", &event.id, &key) < 0 || key == nullptr) return 0;
    event.action = key;
  } else if (sd_bus_message_is_signal(message, kInterface, "NotificationClosed") > 0) {
    std::uint32_t reason = 0;
    if (sd_bus_message_read(message, "uu", &event.id, &reason) < 0) return 0;
    event.closed = true;
  } else {
    return 0;
  }
  if (events->size() < 1024) events->push_back(std::move(event));
  return 0;
}

// The Specification lets servers read a subset of HTML in the body.
std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

struct Bus {
  sd_bus* bus = nullptr;
  sd_bus_slot* slot = nullptr;
  ~Bus() {
    sd_bus_slot_unref(slot);
    sd_bus_flush_close_unref(bus);
  }
};

}  // namespace

bool desktop_confirmation_possible() { return set("DISPLAY") || set("WAYLAND_DISPLAY"); }

DesktopAnswer ask_on_desktop(const std::string& summary, const std::string& body, long long timeout_ms, std::string& problem) {
  Bus bus;
  if (const int r = sd_bus_open_user(&bus.bus); r < 0) {
    problem = std::string("no session bus: ") + std::strerror(-r);  // NOLINT(concurrency-mt-unsafe)
    return DesktopAnswer::kUnavailable;
  }
  std::vector<Event> events;
  // Subscribed before the notification exists, so that no answer can come before the match.
  const std::string match = std::string("type='signal',path='") + kPath + "',interface='" + kInterface + "'";
  if (const int r = sd_bus_add_match(bus.bus, &bus.slot, match.c_str(), on_signal, &events); r < 0) {
    problem = std::string("cannot watch the notification signals: ") + std::strerror(-r);  // NOLINT(concurrency-mt-unsafe)
    return DesktopAnswer::kUnavailable;
  }
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  const auto expire = static_cast<std::int32_t>(std::clamp<long long>(timeout_ms, 1, 24LL * 3600 * 1000));
  const int called = sd_bus_call_method(bus.bus, kService, kPath, kInterface, "Notify", &error, &reply, "susssasa{sv}i",
                                        "devicelogin", std::uint32_t{0}, "dialog-password", summary.c_str(), escaped(body).c_str(),
                                        4U, "allow", "Allow", "deny", "Deny",  //
                                        1U, "urgency", "y", std::uint8_t{2},   // critical: stays until answered
                                        expire);
  if (called < 0) {
    problem = std::string("no notification server answered (") + (error.name != nullptr ? error.name : std::strerror(-called)) +  // NOLINT(concurrency-mt-unsafe)
              ")";
    sd_bus_error_free(&error);
    return DesktopAnswer::kUnavailable;
  }
  std::uint32_t id = 0;
  // The server is whoever answered: a signal from any other connection is not its answer.
  const char* server_name = sd_bus_message_get_sender(reply);
  const std::string server = server_name != nullptr ? server_name : "";
  const int read = sd_bus_message_read(reply, "u", &id);
  sd_bus_message_unref(reply);
  if (read < 0 || server.empty()) {
    problem = "the notification server's answer was not a notification id";
    return DesktopAnswer::kUnavailable;
  }
  const long long deadline = agent::monotonic_ms() + timeout_ms;
  while (true) {
    for (const Event& event : events) {
      if (event.sender != server || event.id != id) continue;
      if (event.closed) return DesktopAnswer::kDenied;
      return event.action == "allow" ? DesktopAnswer::kAllowed : DesktopAnswer::kDenied;
    }
    events.clear();
    const int processed = sd_bus_process(bus.bus, nullptr);
    if (processed < 0) break;  // the bus went away: no answer
    if (processed > 0) continue;
    const long long left = deadline - agent::monotonic_ms();
    if (left <= 0) break;
    if (sd_bus_wait(bus.bus, static_cast<std::uint64_t>(left) * 1000) < 0) break;
  }
  // No answer in time: withdraw the question, so that a late click cannot seem to count.
  (void)sd_bus_call_method(bus.bus, kService, kPath, kInterface, "CloseNotification", nullptr, nullptr, "u", id);
  return DesktopAnswer::kDenied;
}

#else

bool desktop_confirmation_possible() { return false; }

DesktopAnswer ask_on_desktop(const std::string& /*summary*/, const std::string& /*body*/, long long /*timeout_ms*/,
                             std::string& problem) {
  problem = "this build has no desktop notifications (built without libsystemd)";
  return DesktopAnswer::kUnavailable;
}

#endif

}  // namespace devicelogin::cli
