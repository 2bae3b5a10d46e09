#!/usr/bin/python3
"""The seed tutorial's CLI with devicelogin: `login ISSUER`, `whoami`, `token`, `logout` (40 lines max)."""
import sys

import devicelogin

CLIENT_ID = "devicelogin-demo"


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    try:
        if command == "login" and len(argv) == 3:
            session = devicelogin.Session("todo", issuer=argv[2], client_id=CLIENT_ID,
                                          scope="openid profile offline_access")
            session.login(on_code=lambda code, uri, full: print(f"Open {full or uri} and enter {code}", file=sys.stderr))
            print("Signed in.")
        elif command == "whoami":  # an authenticated API call; the session refreshes on its own
            session = devicelogin.Session("todo")
            print(session.request("GET", session.status().issuer + "/userinfo").text)
        elif command == "token":
            print(devicelogin.Session("todo").token().reveal())
        elif command == "logout":
            devicelogin.Session("todo").logout()
            print("Signed out.")
        else:
            print("usage: todo_cli.py login ISSUER | whoami | token | logout", file=sys.stderr)
            return 2
    except devicelogin.DeviceLoginError as error:
        print(f"todo: {error}", file=sys.stderr)
        return error.status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
