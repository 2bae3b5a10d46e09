#pragma once
// The token agent's --confirm on a desktop: when the agent has no terminal to ask on but runs in a
// graphical session, it asks through a notification with Allow and Deny buttons
// (org.freedesktop.Notifications, the Desktop Notifications Specification, on the session bus).
// Only a click on Allow, sent by the notification server that showed the notification, says yes.
#include <string>

namespace devicelogin::cli {

enum class DesktopAnswer {
  kAllowed,      // Allow was clicked
  kDenied,       // Deny was clicked, the notification was closed, or no answer came in time
  kUnavailable,  // no session bus, no notification server, or no support in this build
};

// Whether asking on the desktop is worth trying: built with support (sd-bus from libsystemd), and
// DISPLAY or WAYLAND_DISPLAY is set.
[[nodiscard]] bool desktop_confirmation_possible();

// Shows `summary` and `body` (plain text: markup characters are escaped) with Allow and Deny and
// waits at most `timeout_ms` for the answer; the notification is withdrawn after a timeout.
// `problem` receives one line when the answer is kUnavailable.
[[nodiscard]] DesktopAnswer ask_on_desktop(const std::string& summary, const std::string& body, long long timeout_ms,
                                           std::string& problem);

}  // namespace devicelogin::cli
