"""The token on requests and httpx calls (docs/python.md): `adapters.py API_URL`, once signed in
with todo.py. Both refuse a URL outside the profile's API base URLs before sending anything."""
import asyncio
import sys

import httpx
import requests

import devicelogin


async def async_calls(session: devicelogin.Session, api: str) -> int:
    async with httpx.AsyncClient(auth=session.httpx_auth()) as client:
        response = await client.get(api + "/me")
        return response.status_code


def main(api: str) -> int:
    session = devicelogin.Session("todo")
    print(requests.get(api + "/me", auth=session.requests_auth(), timeout=30).json())
    with httpx.Client(auth=session.httpx_auth()) as client:
        print(client.get(api + "/me").json())
    print(asyncio.run(async_calls(session, api)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
