#!/usr/bin/env python3
"""Webhook delivery figures, release build, on this machine. Run through
bench/webhooks.sh (which builds first).

Scenarios, against the embedded emulator (`--profile local`) and the test
suite's receiver (tests/webhooks/receiver.py, which verifies signatures):
  latency  a proxy token created through mws -> its signed token.created
           arriving at the receiver (sink plugin call, outbox write with
           fsync, signing, HTTP on loopback); N events, one at a time
  drain    N deliveries queued behind a held request, then released: how
           fast one endpoint's backlog goes out (one request in flight)
  stuck    M deliveries waiting for a dead endpoint (written into the
           outbox before mwsd starts): how long the outbox takes to read,
           the latency to the live endpoint beside it, `mws webhooks list`
Prints a Markdown table; timings are figures, not pass/fail.
"""
import json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
MWS = os.path.join(REL, "mws")
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
RECEIVER = os.path.join(ROOT, "tests", "webhooks", "receiver.py")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
N_LATENCY = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "50"))
N_DRAIN = int(os.environ.get("BENCH_WEBHOOK_BACKLOG", "200"))
N_STUCK = int(os.environ.get("BENCH_WEBHOOK_STUCK", "100000"))


def world(root):
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "TZ": "UTC",
           "MWS_KEYRING": "keyutils", "MWS_BUNDLED_PLUGINS": "1",
           "MWS_POLL_INTERVAL_SECS": "3600"}
    for key, sub in [("HOME", "home"), ("XDG_RUNTIME_DIR", "run"), ("XDG_DATA_HOME", "data"),
                     ("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config"),
                     ("XDG_CACHE_HOME", "cache")]:
        path = os.path.join(root, sub)
        os.makedirs(path, mode=0o700)
        env[key] = path
    env["MODAL_CONFIG_PATH"] = os.path.join(root, "home", ".modal.toml")
    return env


def mws(env, *args, stdin=None):
    return subprocess.run([MWS, "--profile", "local", *args], env=env, check=True,
                          capture_output=True, text=True, input=stdin).stdout


def log(recv):
    try:
        return [json.loads(l) for l in open(os.path.join(recv, "log"))]
    except FileNotFoundError:
        return []


def wait(recv, n, limit=120):
    deadline = time.time() + limit
    while len(log(recv)) < n:
        if time.time() > deadline:
            sys.exit(f"only {len(log(recv))} of {n} deliveries arrived")
        time.sleep(0.002)
    return log(recv)


def latency(env, recv, n, prefix):
    """Milliseconds from each `proxy-tokens create` returning to its
    delivery arriving, one at a time."""
    times = []
    base = len(log(recv))
    for i in range(n):
        mws(env, "proxy-tokens", "create", "--name", f"{prefix}-{i}")
        done = time.time()
        entry = wait(recv, base + i + 1)[-1]
        assert entry["verified"], entry
        times.append((entry["at"] - done) * 1000)
    return times


def config(env, port, extra=""):
    with open(os.path.join(env["XDG_CONFIG_HOME"], "mws", "config.toml"), "w") as f:
        f.write(f'[webhooks]\ntimeout_secs = 600\nmax_queue = 1000000\n'
                f'[webhooks.endpoints.bench]\n'
                f'url = "http://127.0.0.1:{port}/bench"\nevents = ["token.created"]\n{extra}')


def stuck(env, recv, port):
    """Fills the outbox with N_STUCK deliveries for a dead endpoint, then
    restarts mwsd and measures beside them."""
    mws(env, "daemon", "stop")
    config(env, port, '[webhooks.endpoints.dead]\nurl = "http://127.0.0.1:9/dead"\n'
                      'events = ["nothing"]\n')
    outbox = os.path.join(env["XDG_STATE_HOME"], "mws", "outbox")
    now = time.time()
    for seq in range(1, N_STUCK + 1):
        record = {"id": f"msg_stuck{seq}", "endpoint": "dead", "event": "token.created",
                  "created_at": now, "attempts": 1, "next_attempt_at": now + 3600,
                  "last_error": "connection refused", "body": '{"type":"token.created"}'}
        with open(os.path.join(outbox, f"{seq:020}.json"), "w") as f:
            json.dump(record, f)
    started = time.time()
    mws(env, "daemon", "start")
    # While the outbox is being read: an event for the sink, then a plugin
    # render, which waits if the sink's deliveries wait for the read.
    mws(env, "proxy-tokens", "create", "--name", "during-load")
    t = time.time()
    mws(env, "members", "list", "--format", "csv")
    render_during_load = (time.time() - t) * 1000
    while json.loads(mws(env, "webhooks", "list", "--json"))["queued"] < N_STUCK:
        time.sleep(0.05)
    loaded = time.time() - started
    # The during-load event goes out once the read is done: let it arrive.
    while any(e["name"] == "bench" and e["queued"]
              for e in json.loads(mws(env, "webhooks", "list", "--json"))["endpoints"]):
        time.sleep(0.01)
    time.sleep(0.2)
    times = latency(env, recv, N_LATENCY, "beside")
    listed = []
    for _ in range(10):
        t = time.time()
        mws(env, "webhooks", "list")
        listed.append((time.time() - t) * 1000)
    return loaded, times, statistics.median(listed), render_during_load


def main():
    root = tempfile.mkdtemp(prefix="mws-bench-webhooks-")
    recv = os.path.join(root, "recv")
    os.makedirs(recv)
    receiver = subprocess.Popen([PYTHON, RECEIVER, recv])
    env = world(root)
    try:
        while not os.path.exists(os.path.join(recv, "port")):
            time.sleep(0.02)
        port = open(os.path.join(recv, "port")).read()
        os.makedirs(os.path.join(env["XDG_CONFIG_HOME"], "mws"))
        config(env, port)
        with open(os.path.join(recv, "secret"), "w") as f:
            f.write(SECRET)
        mws(env, "webhooks", "secret", "bench", "--secret-stdin", stdin=SECRET + "\n")
        mws(env, "proxy-tokens", "list")

        latencies = latency(env, recv, N_LATENCY, "lat")

        # The receiver holds the first request of the backlog until released.
        base = len(log(recv))
        open(os.path.join(recv, "hold"), "w").close()
        queue_start = time.time()
        for i in range(N_DRAIN):
            mws(env, "proxy-tokens", "create", "--name", f"drain-{i}")
        queue_secs = time.time() - queue_start
        while json.loads(mws(env, "webhooks", "list", "--json"))["queued"] < N_DRAIN:
            time.sleep(0.01)
        released = time.time()
        os.remove(os.path.join(recv, "hold"))
        entries = wait(recv, base + N_DRAIN)[base:]
        drained = max(e["at"] for e in entries) - released
        assert all(e["verified"] for e in entries)
        status = json.loads(mws(env, "daemon", "status", "--json"))
        if N_STUCK:
            loaded, beside, listed, render_during_load = stuck(env, recv, port)

        q = statistics.quantiles(latencies, n=10)
        print("| scenario | figure |")
        print("|---|---|")
        print(f"| event → receiver, median of {N_LATENCY} | {statistics.median(latencies):.1f} ms |")
        print(f"| event → receiver, p90 | {q[8]:.1f} ms |")
        print(f"| event → receiver, max | {max(latencies):.1f} ms |")
        print(f"| {N_DRAIN} backlog deliveries to one endpoint, drained in | {drained:.2f} s ({N_DRAIN / drained:.0f}/s) |")
        print(f"| {N_DRAIN} `mws proxy-tokens create` while held (queueing) | {queue_secs:.2f} s |")
        print(f"| dropped / missed events | {status['webhooks']['dropped']} / {status['webhooks']['missed_events']} |")
        if N_STUCK:
            print(f"| {N_STUCK} deliveries stuck for a dead endpoint: outbox read at start in | {loaded:.2f} s |")
            print(f"| event → receiver beside them, median / max of {N_LATENCY} | {statistics.median(beside):.1f} / {max(beside):.1f} ms |")
            print(f"| `mws webhooks list` beside them, median of 10 | {listed:.1f} ms |")
            print(f"| `mws members list --format csv` just after an event, while the outbox is read | {render_during_load:.0f} ms |")
    finally:
        subprocess.run([MWS, "daemon", "stop"], env=env, capture_output=True)
        receiver.kill()


if __name__ == "__main__":
    main()
