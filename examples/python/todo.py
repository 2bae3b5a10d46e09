#!/usr/bin/python3
"""todo: sign in with your browser, call the API, sign out (docs/python.md)."""
import argparse
import sys

import devicelogin

ISSUER = "https://id.example.com"
ME = "https://api.example.com/me"  # an API call that says who is signed in


def main() -> int:
    parser = argparse.ArgumentParser(prog="todo")
    parser.add_argument("command", choices=["login", "whoami", "logout"])
    parser.add_argument("--issuer", default=ISSUER)
    parser.add_argument("--me", default=ME)
    parser.add_argument("--client-id", default="todo-cli")
    args = parser.parse_args()
    try:
        if args.command == "login":
            session = devicelogin.Session("todo", issuer=args.issuer, client_id=args.client_id,
                                          scope="openid profile offline_access", api_urls=[args.me])
            session.login(on_code=lambda code, uri, full: print(f"Open {full or uri} and enter {code}",
                                                                file=sys.stderr))
            print("Signed in as", session.status().subject)
        elif args.command == "whoami":
            print(devicelogin.Session("todo").request("GET", args.me).text)
        else:
            devicelogin.Session("todo").logout()
            print("Signed out.")
    except devicelogin.DeviceLoginError as error:
        print(f"todo: {error}", file=sys.stderr)
        return error.status  # the exit codes of the devicelogin CLI: 5 = sign in first
    return 0


if __name__ == "__main__":
    sys.exit(main())
