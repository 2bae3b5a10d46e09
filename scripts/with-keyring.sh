#!/usr/bin/env bash
# Runs a command against a private, unlocked Secret Service: a new D-Bus session bus
# (dbus-run-session) with gnome-keyring-daemon serving org.freedesktop.secrets, under a temporary
# HOME / XDG_DATA_HOME / XDG_RUNTIME_DIR, so the user's real keyring is never touched. Exits with
# the command's exit code; removes the temporary directory afterwards.
#   scripts/with-keyring.sh CMD [ARG...]
# Inside, WITH_KEYRING_ACTIVE=1 and WITH_KEYRING_PASSWORD (the throwaway login keyring's
# password) are exported. Run from inside such a session, it just runs CMD (idempotent).
# When the keyring cannot be started (a tool missing, the daemon not answering), it prints the
# reason and exits 77, which ctest is told to count as skipped (SKIP_RETURN_CODE), never passed.
# Debian packages: dbus (dbus-run-session, dbus-send), gnome-keyring.
set -euo pipefail

readonly skip_code=77

if (($# == 0)); then
  echo "usage: with-keyring.sh CMD [ARG...]" >&2
  exit 2
fi

# Second stage, run by dbus-run-session inside the new bus: start and unlock the keyring, wait
# until it owns its bus name, then run the command.
if [[ "${1}" == "--inside-session" ]]; then
  shift
  # gnome-keyring-daemon reads the login keyring's password on stdin; with a fresh data
  # directory it creates the "login" collection with that password and makes it the default
  # alias. It daemonizes, printing GNOME_KEYRING_CONTROL=... lines for the environment.
  if ! daemon_env=$(printf '%s' "$WITH_KEYRING_PASSWORD" |
    gnome-keyring-daemon --replace --daemonize --unlock --components=secrets 2>"$WITH_KEYRING_DIR/daemon.log"); then
    echo "with-keyring: skipped: gnome-keyring-daemon failed to start: $(tr '\n' ' ' <"$WITH_KEYRING_DIR/daemon.log")" >&2
    exit "$skip_code"
  fi
  while IFS= read -r line; do
    [[ "$line" == *=* ]] && export "${line?}"
  done <<<"$daemon_env"

  # The daemon claims org.freedesktop.secrets shortly after it forks. A client that asks before
  # then would have dbus-daemon activate a second, locked daemon: wait for the name (up to 10 s).
  owned=0
  for _ in $(seq 1 100); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; then
      owned=1
      break
    fi
    sleep 0.1
  done
  if ((owned == 0)); then
    echo "with-keyring: skipped: gnome-keyring-daemon did not claim org.freedesktop.secrets within 10 s" >&2
    exit "$skip_code"
  fi
  daemon_pid=$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null |
    awk '/uint32/ { print $2 }')
  export WITH_KEYRING_ACTIVE=1
  status=0
  "$@" || status=$?
  # Stop the daemon (and wait for it) before the caller removes its data directory.
  if [[ -n "$daemon_pid" ]] && kill "$daemon_pid" 2>/dev/null; then
    for _ in $(seq 1 20); do
      # Gone, or a zombie waiting for init to reap it: either way it has stopped writing.
      state=$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$daemon_pid/stat" 2>/dev/null) || break
      [[ -n "$state" ]] || break
      [[ "$state" == Z* ]] && break
      sleep 0.1
    done
  fi
  exit "$status"
fi

if [[ "${WITH_KEYRING_ACTIVE:-}" == 1 && -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]]; then
  exec "$@"
fi

for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "with-keyring: skipped: $tool is not installed (Debian packages: dbus gnome-keyring)" >&2
    exit "$skip_code"
  fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/with-keyring.XXXXXX")
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() { rm -rf "$dir"; }
trap cleanup EXIT
mkdir -m 0700 "$dir/home" "$dir/data" "$dir/config" "$dir/cache" "$dir/runtime"

script_path=$(readlink -f "${BASH_SOURCE[0]}")
status=0
env -u DBUS_SESSION_BUS_ADDRESS -u GNOME_KEYRING_CONTROL -u SSH_AUTH_SOCK -u DISPLAY -u WAYLAND_DISPLAY \
  HOME="$dir/home" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" \
  XDG_CACHE_HOME="$dir/cache" XDG_RUNTIME_DIR="$dir/runtime" WITH_KEYRING_DIR="$dir" \
  WITH_KEYRING_PASSWORD="with-keyring-$$-$RANDOM" \
  dbus-run-session -- bash "$script_path" --inside-session "$@" || status=$?
exit "$status"
