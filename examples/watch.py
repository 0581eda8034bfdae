#!/usr/bin/env python3
"""Subscribe to mwsd's change events over its JSON-lines protocol and print
them, one JSON object per line. Python standard library only.

    MODAL_PROFILE=local python3 examples/watch.py

It speaks to an already running daemon (start one with `mws daemon start`).
The credentials are chosen like mws chooses them: --profile / MODAL_PROFILE,
MODAL_TOKEN_ID / MODAL_TOKEN_SECRET / MODAL_SERVER_URL, ~/.modal.toml.
See docs/ipc.md for the protocol.
"""

import json
import os
import socket
import sys


def socket_path():
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "mws", "mwsd.sock")
    return f"/tmp/mws-{os.getuid()}/mwsd.sock"


def selection(profile):
    env = os.environ
    return {
        "profile": profile,
        "env_profile": env.get("MODAL_PROFILE"),
        "config_path": env.get("MODAL_CONFIG_PATH"),
        "home": env.get("HOME"),
        "token_id": env.get("MODAL_TOKEN_ID"),
        "token_secret": env.get("MODAL_TOKEN_SECRET"),
        "server_url": env.get("MODAL_SERVER_URL"),
        "environment": env.get("MODAL_ENVIRONMENT"),
    }


def main(argv):
    profile = None
    if len(argv) == 3 and argv[1] == "--profile":
        profile = argv[2]
    elif len(argv) != 1:
        print("usage: watch.py [--profile NAME]", file=sys.stderr)
        return 2
    conn = socket.socket(socket.AF_UNIX)
    try:
        conn.connect(socket_path())
    except OSError as e:
        print(f"error: cannot reach mwsd at {socket_path()}: {e}", file=sys.stderr)
        return 1
    stream = conn.makefile("rwb")

    def send(message):
        stream.write(json.dumps(message).encode() + b"\n")
        stream.flush()

    def receive():
        line = stream.readline()
        if not line:
            raise EOFError("mwsd closed the connection")
        return json.loads(line)

    send({"protocol_version": 2, "client_version": "examples/watch.py", "features": []})
    hello = receive()
    if hello.get("error"):
        print(f"error: {hello['error']}", file=sys.stderr)
        return 1
    send({"Watch": {"selection": selection(profile)}})
    answer = receive()
    if answer != "Ok":
        print(f"error: {answer.get('Error', {}).get('message', answer)}", file=sys.stderr)
        return 1
    print("subscribed", file=sys.stderr, flush=True)
    try:
        while True:
            message = receive()
            event = message.get("Event")
            if event is None:
                continue
            print(
                json.dumps(
                    {
                        "type": event["kind"],
                        "time": event["time"],
                        "workspace": event["workspace"],
                        "before": json.loads(event["before"]),
                        "after": json.loads(event["after"]),
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
    except (EOFError, KeyboardInterrupt):
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
