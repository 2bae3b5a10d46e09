"""Sign in from asyncio (docs/python.md): `async_login.py ISSUER`. Ctrl-C cancels the task, which
cancels the login: the poll stops and nothing is stored."""
import asyncio
import sys

import devicelogin


async def main(issuer: str) -> int:
    session = devicelogin.Session("todo", issuer=issuer, client_id="todo-cli", scope="openid offline_access")
    try:
        await session.login_async(on_code=lambda code, uri, full: print(f"Open {full or uri} and enter {code}"))
        token = await session.token_async()
    except devicelogin.DeviceLoginError as error:
        print(f"todo: {error}", file=sys.stderr)
        return error.status
    print("Signed in; token", token)  # prints Token(<hidden>)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1])))
    except KeyboardInterrupt:
        sys.exit(130)
