#!/usr/bin/env node
// Follow mwsd's change events over its JSON-lines protocol, and survive
// daemon restarts: on every disconnect it reconnects with the last cursor it
// saw (`since`), so missed events are replayed, or mwsd says plainly that
// they cannot be (a resync: the cursor is too old, or mwsd restarted) and an
// editor knows to list again. Node.js 18+, no npm packages.
//
//     MODAL_PROFILE=local node examples/watch.mjs [--profile NAME] [--since INSTANCE:SEQ]
//
// stdout: one JSON object per line — events ({"type": "token.created",
// "time", "workspace", "before", "after", "instance", "seq"}), and
// {"type": "resync", "reason", "instance", "seq"} or {"type": "lagged",
// "missed"} when the stream has a gap. stderr: what the connection does.
// It speaks to a running daemon (start one with `mws daemon start`); the
// credentials are chosen like mws chooses them (--profile, MODAL_PROFILE,
// MODAL_TOKEN_ID / MODAL_TOKEN_SECRET / MODAL_SERVER_URL, ~/.modal.toml).
// See docs/ipc.md (protocol) and docs/ipc.schema.json (every message).

import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";

const PROTOCOL_VERSION = 6;
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 2000;

/** The daemon's socket, by the same rules as mws (docs/ipc.md). */
function socketPath() {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime && path.isAbsolute(runtime)) {
    return path.join(runtime, "mws", "mwsd.sock");
  }
  return `/tmp/mws-${os.userInfo().uid}/mwsd.sock`;
}

/** The credentials to watch as, as this process sees them. */
function selection(profile) {
  const env = (name) => process.env[name] ?? null;
  return {
    profile,
    env_profile: env("MODAL_PROFILE"),
    config_path: env("MODAL_CONFIG_PATH"),
    home: env("HOME"),
    token_id: env("MODAL_TOKEN_ID"),
    token_secret: env("MODAL_TOKEN_SECRET"),
    server_url: env("MODAL_SERVER_URL"),
    environment: env("MODAL_ENVIRONMENT"),
  };
}

/** `INSTANCE:SEQ` or `SEQ` → {instance, seq}. */
function parseCursor(text) {
  const match = /^(?:(.+):)?(\d+)$/.exec(text);
  if (!match) {
    throw new Error(`'${text}' is not a cursor: use INSTANCE:SEQ or SEQ`);
  }
  return { instance: match[1] ?? null, seq: Number(match[2]) };
}

function parseArgs(argv) {
  const options = { profile: null, since: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === "--profile") options.profile = value;
    else if (flag === "--since") options.since = parseCursor(value);
    else throw new Error(`unknown argument ${flag}`);
  }
  return options;
}

const show = (cursor) => (cursor ? `${cursor.instance ?? ""}:${cursor.seq}` : "none");
const print = (object) => process.stdout.write(JSON.stringify(object) + "\n");
const note = (text) => process.stderr.write(text + "\n");

/** The JSON text of an event's before/after, as an object. */
function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

class Watcher {
  constructor(options) {
    this.profile = options.profile;
    // The last event seen (or where the stream started): sent as `since`.
    this.cursor = options.since;
    this.delay = RETRY_FIRST_MS;
    this.away = false;
  }

  connect() {
    const socket = net.createConnection(socketPath());
    socket.setEncoding("utf8");
    let buffer = "";
    let state = "hello";
    socket.on("connect", () => {
      const watch = { selection: selection(this.profile) };
      if (this.cursor) watch.since = this.cursor;
      const hello = {
        protocol_version: PROTOCOL_VERSION,
        client_version: "examples/watch.mjs",
        features: [],
      };
      socket.write(`${JSON.stringify(hello)}\n${JSON.stringify({ Watch: watch })}\n`);
    });
    socket.on("data", (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line.trim() === "") continue;
        state = this.handle(state, JSON.parse(line), socket);
      }
    });
    socket.on("error", (error) => {
      this.lastError = error.code ?? error.message;
    });
    socket.on("close", () => this.reconnect());
  }

  /** Handles one message; returns the connection's next state. */
  handle(state, message, socket) {
    if (state === "hello") {
      if (message.error) fail(`mwsd refused the connection: ${message.error}`);
      return "answer";
    }
    if (message?.Error) {
      const { kind, message: text } = message.Error;
      if (kind === "Unreachable") {
        note(`mwsd: ${text}; retrying`);
        socket.destroy();
        return state;
      }
      fail(`mwsd: ${text}`);
    }
    if (state === "answer") {
      if (message !== "Ok") fail(`unexpected answer from mwsd: ${JSON.stringify(message)}`);
      return "stream";
    }
    if (message.Watching) {
      const { instance, seq } = message.Watching;
      this.subscribed({ instance, seq });
    } else if (message.Resync) {
      const { reason, instance, seq } = message.Resync;
      const before = show(this.cursor);
      this.subscribed({ instance, seq });
      print({ type: "resync", reason, instance, seq });
      const why =
        reason === "other_instance"
          ? `mwsd restarted since ${before} (now instance ${instance})`
          : `the events after ${before} are no longer held`;
      note(`resync: ${why}; list again to see the current state`);
    } else if (message.Event) {
      const event = message.Event;
      this.cursor = { instance: event.instance, seq: event.seq };
      print({
        type: event.kind,
        time: event.time,
        workspace: event.workspace,
        before: parsed(event.before),
        after: parsed(event.after),
        instance: event.instance,
        seq: event.seq,
      });
    } else if (message.Lagged) {
      print({ type: "lagged", missed: message.Lagged.missed });
      note(`${message.Lagged.missed} events missed (this client fell behind); list again`);
    }
    // Anything else is from a later protocol: ignored.
    return state;
  }

  subscribed(cursor) {
    this.cursor = cursor;
    this.delay = RETRY_FIRST_MS;
    this.away = false;
    note(`subscribed: mwsd instance ${cursor.instance}, from seq ${cursor.seq}`);
  }

  reconnect() {
    if (!this.away) {
      this.away = true;
      const why = this.lastError ? ` (${this.lastError})` : "";
      note(`disconnected from mwsd${why}; reconnecting with since ${show(this.cursor)}`);
    }
    this.lastError = undefined;
    setTimeout(() => this.connect(), this.delay);
    this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
  }
}

function fail(text) {
  note(`error: ${text}`);
  process.exit(1);
}

let options;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  note(`usage: watch.mjs [--profile NAME] [--since INSTANCE:SEQ]\n${error.message}`);
  process.exit(2);
}
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
new Watcher(options).connect();
