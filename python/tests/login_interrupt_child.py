"""The program that test_login_interrupt.py interrupts: Session.login() against ISSUER, then
ACTION (what the caller does to the session while its login runs; the test delivers the SIGINTs):

  once         one Ctrl-C; KeyboardInterrupt is left uncaught.
  twice        two Ctrl-Cs; KeyboardInterrupt is left uncaught (the session is collected at exit).
  twice-with   two Ctrl-Cs inside `with Session(...)`: __exit__ closes the session.
  twice-del    two Ctrl-Cs, then `del session` and gc.collect().
  close        no Ctrl-C: another thread calls session.close() when a line comes on stdin.

After `with`/`del`/close() the program prints "let go" and waits for the library's login threads to
end (so that what such a thread does with its session happens before the process exits, and
ASan sees it), prints "freed" if the package freed the native session meanwhile, then re-raises
KeyboardInterrupt (close: prints how login() ended first).
    login_interrupt_child.py PACKAGE_DIR ISSUER ACTION"""
import gc
import logging
import sys
import threading

sys.path.insert(0, sys.argv[1])
import devicelogin  # noqa: E402

issuer, action = sys.argv[2], sys.argv[3]
# The package's DEBUG events ("login: interrupted, cancelling") tell the test that the first
# Ctrl-C was taken; they never hold a secret.
logging.basicConfig(stream=sys.stderr, level=logging.DEBUG, format="%(name)s: %(message)s")


def open_session() -> devicelogin.Session:
    return devicelogin.Session("py-int", issuer=issuer, client_id="devicelogin-demo",
                               scope="openid profile offline_access", store="file")


def on_code(code: str, uri: str, uri_complete: str) -> None:
    print("code shown", flush=True)


def wait_for_login_threads(native) -> None:
    for thread in threading.enumerate():
        if thread.name == "devicelogin-login":
            thread.join()
    if native.handle is None:  # the package's own record: the last owner freed the native session
        print("freed", flush=True)


if action in ("once", "twice"):
    session = open_session()
    session.login(on_code=on_code)
    print("signed in", flush=True)
elif action == "twice-with":
    interrupted = False
    try:
        with open_session() as session:
            native = session._native
            session.login(on_code=on_code)
    except KeyboardInterrupt:
        interrupted = True
    print("let go", flush=True)
    wait_for_login_threads(native)
    if interrupted:
        raise KeyboardInterrupt
elif action == "twice-del":
    session = open_session()
    native = session._native
    interrupted = False
    try:
        session.login(on_code=on_code)
    except KeyboardInterrupt:
        interrupted = True  # the traceback (and login()'s frame with the session) goes with the except block
    del session
    gc.collect()
    print("let go", flush=True)
    wait_for_login_threads(native)
    if interrupted:
        raise KeyboardInterrupt
elif action == "close":
    session = open_session()
    native = session._native

    def close_on_request() -> None:
        sys.stdin.readline()
        session.close()
        print("let go", flush=True)

    closer = threading.Thread(target=close_on_request)
    closer.start()
    try:
        session.login(on_code=on_code)
        print("signed in", flush=True)
    except devicelogin.Cancelled:
        print("cancelled", flush=True)
    closer.join()
    wait_for_login_threads(native)
else:
    sys.exit(f"unknown action {action}")
