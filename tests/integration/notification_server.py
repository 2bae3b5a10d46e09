#!/usr/bin/python3
"""A desktop notification server for tests (org.freedesktop.Notifications on the session bus).

Each Notify call takes the next planned answer from the command line and gives it once the reply
has been sent:
  allow       ActionInvoked(id, "allow"), as a click on Allow
  deny        ActionInvoked(id, "deny")
  close       NotificationClosed(id, 2), as the user dismissing it
  spoof-deny  first another connection on the bus (not the server) sends ActionInvoked(id,
              "allow"), then the server sends ActionInvoked(id, "deny"): only the server's counts
Prints "ready" once it owns the name, then one JSON line per notification (summary, body, actions,
hints' urgency, expire_timeout) on stdout.
"""
import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class Spoofer(dbus.service.Object):
    """Another connection emitting the server's signals under the same path and interface."""

    def __init__(self, bus):
        super().__init__(bus, PATH)

    @dbus.service.signal(NAME, signature="us")
    def ActionInvoked(self, notification_id, action_key):  # noqa: N802 (D-Bus names)
        pass


class Server(dbus.service.Object):
    def __init__(self, bus, plan):
        super().__init__(bus, PATH)
        self.plan = list(plan)
        self.next_id = 0

    @dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app_name, replaces_id, icon, summary, body, actions, hints, expire_timeout):  # noqa: N802
        self.next_id += 1
        notification_id = self.next_id
        print(json.dumps({"app": str(app_name), "summary": str(summary), "body": str(body),
                          "actions": [str(a) for a in actions], "urgency": int(hints.get("urgency", -1)),
                          "expire_timeout": int(expire_timeout)}), flush=True)
        answer = self.plan.pop(0) if self.plan else "none"
        GLib.idle_add(self.answer, notification_id, answer)
        return notification_id

    @dbus.service.method(NAME, in_signature="u", out_signature="")
    def CloseNotification(self, notification_id):  # noqa: N802
        self.NotificationClosed(notification_id, 3)

    @dbus.service.signal(NAME, signature="us")
    def ActionInvoked(self, notification_id, action_key):  # noqa: N802
        pass

    @dbus.service.signal(NAME, signature="uu")
    def NotificationClosed(self, notification_id, reason):  # noqa: N802
        pass

    def answer(self, notification_id, answer):
        if answer == "allow":
            self.ActionInvoked(notification_id, "allow")
        elif answer == "deny":
            self.ActionInvoked(notification_id, "deny")
        elif answer == "close":
            self.NotificationClosed(notification_id, 2)
        elif answer == "spoof-deny":
            SPOOFER.ActionInvoked(notification_id, "allow")
            # The bus daemon handles a connection's messages in order: once it has answered this
            # call, the spoofed signal is on its way to the agent, ahead of the server's answer.
            SPOOF_BUS.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus").GetId(
                dbus_interface="org.freedesktop.DBus")
            self.ActionInvoked(notification_id, "deny")
        return False


DBusGMainLoop(set_as_default=True)
BUS = dbus.SessionBus()
SPOOF_BUS = dbus.SessionBus(private=True)
SPOOFER = Spoofer(SPOOF_BUS)
SERVER = Server(BUS, sys.argv[1:])
BUS.request_name(NAME, dbus.bus.NAME_FLAG_DO_NOT_QUEUE)
print("ready", flush=True)
GLib.MainLoop().run()
