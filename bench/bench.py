#!/usr/bin/env python3
"""mws vs the official Modal CLI, side by side. Run through bench/run.sh.

Every scenario runs real processes against one local mws-emulator (release
build): the official client (.venv/bin/modal) and mws (target/release/mws,
which auto-starts target/release/mwsd). Times are wall-clock per command,
from fork to exit. Results go to bench/results/<date>-<commit>.{json,md}.
"""
import datetime, json, os, platform, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
MWS, MWSD, EMU = (os.path.join(REL, n) for n in ("mws", "mwsd", "mws-emulator"))
IPC = os.path.join(REL, "mws-bench-ipc")
MODAL = os.path.join(ROOT, ".venv", "bin", "modal")
QUICK = os.environ.get("BENCH_QUICK") == "1"


def reps(n):
    return max(2, n // 5) if QUICK else n


class Emulator:
    def __init__(self, root, name, bulk=None):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "emulator.db")
        self.calls = os.path.join(self.dir, "calls.jsonl")
        self.cli("seed", "demo", "--json")
        if bulk:
            self.cli("admin", "bulk", "--members", str(bulk[0]), "--tokens", str(bulk[1]))
        cred = json.loads(self.cli("credentials", "create", "--json"))
        ready = os.path.join(self.dir, "ready.json")
        self.proc = subprocess.Popen(
            [EMU, "--db", self.db, "serve", "--ready-file", ready, "--call-log", self.calls],
            stdout=subprocess.DEVNULL)
        while not os.path.exists(ready):
            time.sleep(0.02)
        self.url = json.load(open(ready))["url"]
        self.token_id, self.token_secret = cred["token_id"], cred["token_secret"]

    def cli(self, *args):
        return subprocess.run([EMU, "--db", self.db, *args], check=True,
                              capture_output=True, text=True).stdout

    def count(self, method):
        try:
            return sum(1 for l in open(self.calls) if json.loads(l)["method"] == method)
        except FileNotFoundError:
            return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def environment(root, emu):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM")}
    for key, sub in [("HOME", "home"), ("XDG_RUNTIME_DIR", "run"), ("XDG_STATE_HOME", "state"),
                     ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache"),
                     ("XDG_DATA_HOME", "data")]:
        path = os.path.join(root, sub)
        os.makedirs(path, mode=0o700, exist_ok=True)
        env[key] = path
    env.update(TZ="UTC", COLUMNS="120", LANG="C.UTF-8",
               MODAL_CONFIG_PATH=os.path.join(root, "home", ".modal.toml"),
               MODAL_SERVER_URL=emu.url, MODAL_TOKEN_ID=emu.token_id,
               MODAL_TOKEN_SECRET=emu.token_secret, MWS_POLL_INTERVAL_SECS="3600")
    return env


def run(cmd, env, check=True):
    """Runs one command; returns (seconds, stdout, max RSS kB)."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    out, err = p.communicate()
    took = time.perf_counter() - t
    if check and p.returncode != 0:
        raise SystemExit(f"{cmd} failed: {err.decode()}")
    return took, out, 0


def peak_rss(cmd, env):
    """Peak RSS (kB) of one run, from GNU time (`/usr/bin/time -f %M`): a
    fork of this Python process would report Python's own size."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True,
                       text=True, check=True)
    return int(p.stderr.strip().splitlines()[-1])


def stats(samples):
    ms = [s * 1000 for s in samples]
    return {"n": len(ms), "median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms)}


def time_cmd(cmd, env, n, before=None):
    samples = []
    for _ in range(n):
        if before:
            before()
        samples.append(run(cmd, env)[0])
    return stats(samples)


def daemon_pid(env):
    _, out, _ = run([MWS, "daemon", "status", "--json"], env)
    return json.loads(out)["pid"]


def status_kb(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


def main():
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip() != ""
    root = tempfile.mkdtemp(prefix="mws-bench-")
    small = Emulator(root, "emu-small")
    large = Emulator(root, "emu-large", bulk=(5000, 2000))
    env = environment(os.path.join(root, "world"), small)
    env_large = dict(env, MODAL_SERVER_URL=large.url, MODAL_TOKEN_ID=large.token_id,
                     MODAL_TOKEN_SECRET=large.token_secret)
    rows, raw = [], {}

    def row(name, mws, official=None, goal=""):
        ratio = official["median_ms"] / mws["median_ms"] if official else None
        rows.append((name, mws, official, ratio, goal))
        raw[name] = {"mws": mws, "official": official, "ratio": ratio, "goal": goal}
        off = f"{official['median_ms']:.0f} ms" if official else "-"
        print(f"{name:55} mws {mws['median_ms']:8.2f} ms   official {off:>9}", file=sys.stderr)

    def stop_daemon():
        subprocess.run([MWS, "daemon", "stop"], env=env, capture_output=True)

    try:
        # Warm reads.
        run([MWS, "proxy-tokens", "list", "--json"], env)
        run([MWS, "members", "list", "--json"], env)
        for args in (["service-users", "list", "--json"], ["member-tokens", "list", "--json"],
                     ["settings", "list", "--json"]):
            run([MWS, *args], env)
        for args in (["proxy-tokens", "list", "--json"], ["members", "list", "--json"],
                     ["service-users", "list", "--json"], ["member-tokens", "list", "--json"],
                     ["settings", "list", "--json"]):
            row("warm read: " + " ".join(args),
                time_cmd([MWS, *args], env, reps(200)),
                time_cmd([MODAL, "workspace", *args], env, reps(10)), "≤ 2 ms")
        # The shell prompt segment (answered from the cache, no Modal call),
        # and a tab completion of token ids: no official equivalent.
        row("warm: prompt (shell prompt segment)",
            time_cmd([MWS, "prompt"], env, reps(200)), None, "≤ 2 ms")
        row("warm: completion of proxy-token ids",
            time_cmd([MWS, "--", "mws", "proxy-tokens", "delete", ""],
                     dict(env, COMPLETE="fish"), reps(200)), None, "≤ 50 ms")
        pid = daemon_pid(env)
        rss_idle = status_kb(pid, "VmRSS")

        # Cold first call: no daemon running.
        row("cold first call: proxy-tokens list --json (daemon start included)",
            time_cmd([MWS, "proxy-tokens", "list", "--json"], env, reps(30), before=stop_daemon),
            None, "≤ 50 ms")

        # Mutation round trip: create, then delete.
        def round_trip(tool, n):
            samples = []
            for i in range(n):
                t = time.perf_counter()
                if tool == "mws":
                    _, out, _ = run([MWS, "proxy-tokens", "create", "--name", f"b{i}", "--json"], env)
                    run([MWS, "proxy-tokens", "delete", json.loads(out)["Modal-Key"], "--yes"], env)
                else:
                    _, out, _ = run([MODAL, "workspace", "proxy-tokens", "create", "--name",
                                     f"o{i}", "--json"], env)
                    run([MODAL, "workspace", "proxy-tokens", "delete",
                         json.loads(out)["Modal-Key"], "--yes"], env)
                samples.append(time.perf_counter() - t)
            return stats(samples)
        row("mutation round trip: create + delete", round_trip("mws", reps(30)),
            round_trip("official", reps(5)))

        # Large workspace: 5,000 members, 2,000 tokens.
        for args in (["members", "list", "--json"], ["members", "list"],
                     ["proxy-tokens", "list", "--json"], ["proxy-tokens", "list"]):
            run([MWS, *args], env_large)
            row("large (5,000 members / 2,000 tokens) warm: " + " ".join(args),
                time_cmd([MWS, *args], env_large, reps(50)),
                time_cmd([MODAL, "workspace", *args], env_large, reps(3)), "≤ 30 ms")
        pid = daemon_pid(env_large)
        rss_large = status_kb(pid, "VmRSS")
        mws_peak = max(peak_rss([MWS, *a], env_large) for a in
                       (["members", "list"], ["members", "list", "--json"],
                        ["proxy-tokens", "list"]))
        mws_peak_small = peak_rss([MWS, "proxy-tokens", "list", "--json"], env)

        # 256 concurrent calls on a cold cache (no daemon).
        stop_daemon()
        before = {m: small.count(m) for m in ("WebhookTokenList", "WorkspaceNameLookup")}
        t = time.perf_counter()
        procs = [subprocess.Popen([MWS, "proxy-tokens", "list", "--json"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(256)]
        outs = [p.communicate() + (p.returncode,) for p in procs]
        wall = time.perf_counter() - t
        failures = sum(1 for o in outs if o[2] != 0)
        distinct = len({o[0] for o in outs if o[2] == 0})
        upstream = {m: small.count(m) - before[m] for m in before}
        concurrency = {"calls": 256, "wall_ms": wall * 1000, "failures": failures,
                       "distinct_outputs": distinct, "upstream_calls": upstream}
        print(f"256 concurrent cold: {concurrency}", file=sys.stderr)

        # IPC throughput over one connection.
        _, out, _ = run([IPC, "1" if QUICK else "3"], env)
        ipc = json.loads(out)
        print(f"ipc: {ipc}", file=sys.stderr)

        sizes = {os.path.basename(p): os.path.getsize(p) for p in (MWS, MWSD, EMU)}
        stripped = {}
        for p in (MWS, MWSD):
            tmp = os.path.join(root, os.path.basename(p) + ".stripped")
            shutil.copy(p, tmp)
            subprocess.run(["strip", tmp], check=False)
            stripped[os.path.basename(p)] = os.path.getsize(tmp)
        memory = {"mwsd_rss_idle_kb": rss_idle, "mwsd_rss_large_cached_kb": rss_large,
                  "mws_peak_rss_kb_small": mws_peak_small, "mws_peak_rss_kb_large": mws_peak,
                  "binary_bytes": sizes, "stripped_bytes": stripped,
                  "true_peak_rss_kb": peak_rss(["/bin/true"], env)}
        print(f"memory: {memory}", file=sys.stderr)
    finally:
        stop_daemon()
        subprocess.run([MWS, "daemon", "stop"], env=env_large, capture_output=True)
        small.stop()
        large.stop()

    machine = {"cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                            if l.startswith("model name")), platform.processor()),
               "cores": os.cpu_count(), "kernel": platform.release(),
               "python": platform.python_version()}
    date = datetime.datetime.now(datetime.timezone.utc)
    result = {"date": date.isoformat(timespec="seconds"), "commit": commit, "dirty": dirty,
              "machine": machine, "quick": QUICK, "scenarios": raw,
              "concurrency": concurrency, "ipc": ipc, "memory": memory,
              "command": "bench/run.sh"}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    stem = os.path.join(ROOT, "bench", "results", f"{date:%Y-%m-%d}-{commit}")
    json.dump(result, open(stem + ".json", "w"), indent=2, ensure_ascii=False)
    md = [f"# mws vs official CLI — {date:%Y-%m-%d %H:%M} UTC, commit {commit}"
          f"{' (dirty tree)' if dirty else ''}", "",
          f"Machine: {machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']}. "
          f"Command: `bench/run.sh`{' (BENCH_QUICK=1)' if QUICK else ''}. Raw: "
          f"`{os.path.basename(stem)}.json`.", "",
          "| scenario | mws median (min–max) | official median (min–max) | ratio | goal |",
          "|---|---|---|---|---|"]
    for name, m, o, ratio, goal in rows:
        ms = f"{m['median_ms']:.2f} ms ({m['min_ms']:.2f}–{m['max_ms']:.2f}, n={m['n']})"
        os_ = (f"{o['median_ms']:.0f} ms ({o['min_ms']:.0f}–{o['max_ms']:.0f}, n={o['n']})"
               if o else "—")
        md.append(f"| {name} | {ms} | {os_} | {f'{ratio:.0f}×' if ratio else '—'} | {goal} |")
    c = concurrency
    md += ["", f"**256 concurrent `mws proxy-tokens list --json`, no daemon running:** "
           f"{c['wall_ms']:.0f} ms wall, {c['failures']} failures, {c['distinct_outputs']} "
           f"distinct output(s), upstream calls: {c['upstream_calls']}.", "",
           f"**IPC over one connection:** Ping {ipc['ping']['requests_per_second']:.0f} req/s "
           f"(median round trip {ipc['ping']['median_round_trip_us']:.1f} µs); cached TokensList "
           f"(demo workspace) {ipc['tokens_list_cached']['requests_per_second']:.0f} req/s "
           f"({ipc['tokens_list_cached']['median_round_trip_us']:.1f} µs).", "",
           f"**Memory:** mwsd RSS {memory['mwsd_rss_idle_kb'] / 1024:.1f} MiB idle (demo workspace "
           f"cached), {memory['mwsd_rss_large_cached_kb'] / 1024:.1f} MiB with the large workspace "
           f"cached; mws peak RSS {memory['mws_peak_rss_kb_small'] / 1024:.1f} MiB (demo), "
           f"{memory['mws_peak_rss_kb_large'] / 1024:.1f} MiB (large table) by `/usr/bin/time -f %M` "
           f"(`/bin/true` measures {memory['true_peak_rss_kb'] / 1024:.1f} MiB the same way); "
           "stripped binaries (release profile already strips symbols): "
           + ", ".join(f"{k} {v / 1024 / 1024:.2f} MiB" for k, v in stripped.items()) + "."]
    open(stem + ".md", "w").write("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"\nwrote {stem}.md and .json", file=sys.stderr)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
