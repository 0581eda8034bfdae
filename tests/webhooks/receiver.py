"""A webhook receiver for mws's tests: an independent Standard Webhooks
verifier (Python's hmac, following https://www.standardwebhooks.com/ and
checked against the spec's own example before it serves anything).

Usage: receiver.py DIR
  DIR/port      written once listening (127.0.0.1, a free port)
  DIR/log       one JSON line per request: path, webhook-id, -timestamp,
                -signature, whether the signature verified, the body (parsed),
                the status answered, the time it arrived
  DIR/secret    the whsec_ secret to verify with (read on every request;
                absent: nothing verifies)
  DIR/statuses  optional, read on every request: comma-separated statuses to
                answer in turn (the last one sticks), e.g. "500,200"
  DIR/hold      optional: while it exists, the first request is held
                unanswered (to kill mwsd mid-delivery); remove it to release
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sign(secret, msg_id, timestamp, body):
    key = base64.b64decode(secret[len("whsec_"):])
    content = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret, msg_id, timestamp, body, header):
    if not secret or not secret.startswith("whsec_"):
        return False
    expected = sign(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in header.split(" "))


# The spec's example (standard-webhooks/spec/standard-webhooks.md).
assert verify(
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "1614265330",
    b'{"test": 2432232314}',
    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
), "the verifier disagrees with the spec's example"

DIR = sys.argv[1]
LOCK = threading.Lock()
STATE = {"requests": 0, "held": False}


def read(name):
    try:
        with open(os.path.join(DIR, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        with LOCK:
            n = STATE["requests"]
            STATE["requests"] += 1
            hold = not STATE["held"] and read("hold") is not None
            if hold:
                STATE["held"] = True
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signature = self.headers.get("webhook-signature", "")
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        statuses = [int(s) for s in (read("statuses") or "200").split(",")]
        status = statuses[min(n, len(statuses) - 1)]
        entry = {
            "path": self.path,
            "id": msg_id,
            "timestamp": timestamp,
            "signature": signature,
            "verified": verify(read("secret"), msg_id, timestamp, body, signature),
            "content_type": self.headers.get("content-type", ""),
            "body": parsed,
            "status": "held" if hold else status,
            "at": time.time(),
        }
        with LOCK, open(os.path.join(DIR, "log"), "a") as log:
            log.write(json.dumps(entry) + "\n")
        if hold:
            while read("hold") is not None:
                time.sleep(0.05)
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
tmp = os.path.join(DIR, "port.tmp")
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, os.path.join(DIR, "port"))
server.serve_forever()
