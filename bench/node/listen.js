// The many-socket client of every live benchmark (fan-out, rate, connections, scale-out),
// driven by bench/live.py over stdin/stdout (one JSON line per command).
//
//   node listen.js --kind ws --url ws://127.0.0.1:8000/ws/orders/ --token <jwt> --first-message
//   node listen.js --kind socketio --url http://127.0.0.1:8766
//
// Two kinds of event are counted:
// - a JSON text carrying "seq" (an integer) and "t" (the producer's wall clock, ms since
//   the epoch, just before it published): the rate, connections and scale-out sections;
// - a "new_order" event with a "ref" (a real order, or the baselines' relay of one): the
//   fan-out section, which reads each socket's arrival time (wall clock, ms) per ref.
// --first-message: a socket counts as open only once its first message (the app's
// snapshot) has arrived, so no event is timed while the server is still sending snapshots.
// Commands:
//   add K          open K more sockets (at most --concurrency at a time)
//   close K        close K sockets
//   count A B      deliveries of seqs A..B so far (distinct socket-seq pairs)
//   report A B [raw]  lost / duplicated / latency percentiles for seqs A..B; forgets them
//   arrivals REF MS   wait (up to MS) until every open socket has REF: its arrival times; forgets them
// Node's own ws (a dependency of socket.io) is the websocket client, so every system is
// read by the same fast client.
"use strict";

const readline = require("node:readline");
const { parseArgs } = require("node:util");
const { performance } = require("node:perf_hooks");
const WebSocket = require("ws");
const { io } = require("socket.io-client");

const { values: args } = parseArgs({
  options: {
    kind: { type: "string", default: "ws" },
    url: { type: "string" },
    token: { type: "string", default: "" },
    concurrency: { type: "string", default: "100" },
    "first-message": { type: "boolean", default: false },
  },
});

const wallMs = () => performance.timeOrigin + performance.now();
const sockets = []; // {close(), open: bool, seen: Set}
let closedByServer = 0;
// seq -> {deliveries, distinct, latencies[]}
const bySeq = new Map();
// ref -> {times[] (one per socket, wall ms), duplicates, sample}
const byRef = new Map();

function recordRef(state, at, message, text) {
  let entry = byRef.get(message.ref);
  if (!entry) {
    entry = { times: [], duplicates: 0, sample: text };
    byRef.set(message.ref, entry);
  }
  if (state.refs.has(message.ref)) entry.duplicates += 1;
  else {
    state.refs.add(message.ref);
    entry.times.push(at);
  }
}

function record(state, text) {
  const at = wallMs();
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return;
  }
  if (typeof message.seq !== "number") {
    if (message.event === "new_order" && typeof message.ref === "string") recordRef(state, at, message, text);
    return;
  }
  let entry = bySeq.get(message.seq);
  if (!entry) {
    entry = { deliveries: 0, distinct: 0, latencies: [] };
    bySeq.set(message.seq, entry);
  }
  entry.deliveries += 1;
  if (!state.seen.has(message.seq)) {
    state.seen.add(message.seq);
    entry.distinct += 1;
    entry.latencies.push(at - message.t);
  }
}

function openOne() {
  return new Promise((resolve, reject) => {
    const state = { open: false, seen: new Set(), refs: new Set() };
    if (args.kind === "socketio") {
      const socket = io(args.url, { transports: ["websocket"], forceNew: true, reconnection: false, timeout: 120000 });
      socket.on("new_order", (message) => record(state, message));
      socket.once("connect", () => {
        state.open = true;
        resolve(state);
      });
      socket.once("connect_error", reject);
      socket.on("disconnect", () => {
        if (state.open) closedByServer += state.closing ? 0 : 1;
        state.open = false;
      });
      state.close = () => {
        state.closing = true;
        socket.disconnect();
      };
      return;
    }
    const headers = args.token ? { Authorization: `Bearer ${args.token}` } : {};
    const ws = new WebSocket(args.url, { headers, perMessageDeflate: false, handshakeTimeout: 120000 });
    let first = args["first-message"];
    const opened = () => {
      state.open = true;
      resolve(state);
    };
    ws.on("message", (data) => {
      if (first) {
        first = false; // the snapshot: not an event
        opened();
        return;
      }
      record(state, data.toString());
    });
    ws.once("open", () => {
      if (!first) opened();
    });
    ws.once("error", (error) => {
      if (!state.open) reject(error);
    });
    ws.on("close", () => {
      if (state.open && !state.closing) closedByServer += 1;
      state.open = false;
    });
    state.close = () => {
      state.closing = true;
      ws.close();
    };
  });
}

async function add(k) {
  const started = performance.now();
  let next = 0;
  let failed = 0;
  let firstError = null;
  const worker = async () => {
    while (next < k) {
      next += 1;
      try {
        sockets.push(await openOne());
      } catch (error) {
        failed += 1;
        firstError = firstError || String(error && error.message ? error.message : error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Number(args.concurrency), k) }, worker));
  return { open: openCount(), failed, error: firstError, connect_s: (performance.now() - started) / 1000 };
}

function openCount() {
  return sockets.filter((s) => s.open).length;
}

function percentile(sorted, q) {
  if (!sorted.length) return null;
  const rank = ((sorted.length - 1) * q) / 100;
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

function report(a, b, raw) {
  const open = openCount();
  let deliveries = 0;
  let distinct = 0;
  let lost = 0;
  let latencies = [];
  for (let seq = a; seq <= b; seq++) {
    const entry = bySeq.get(seq) || { deliveries: 0, distinct: 0, latencies: [] };
    deliveries += entry.deliveries;
    distinct += entry.distinct;
    lost += Math.max(0, open - entry.distinct);
    latencies = latencies.concat(entry.latencies);
    bySeq.delete(seq);
  }
  for (const s of sockets) for (let seq = a; seq <= b; seq++) s.seen.delete(seq);
  latencies.sort((x, y) => x - y);
  const out = {
    open,
    closed_by_server: closedByServer,
    deliveries,
    distinct,
    duplicates: deliveries - distinct,
    lost,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies[latencies.length - 1] : null,
  };
  if (raw) out.latencies = latencies;
  return out;
}

async function arrivals(ref, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const entry = byRef.get(ref);
    if (entry && entry.times.length >= openCount()) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const entry = byRef.get(ref) || { times: [], duplicates: 0, sample: null };
  byRef.delete(ref);
  for (const s of sockets) s.refs.delete(ref);
  return {
    times: entry.times,
    duplicates: entry.duplicates,
    sample: entry.sample,
    open: openCount(),
    closed_by_server: closedByServer,
  };
}

function count(a, b) {
  let distinct = 0;
  for (let seq = a; seq <= b; seq++) distinct += (bySeq.get(seq) || { distinct: 0 }).distinct;
  return { distinct, open: openCount() };
}

const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on("line", (line) => {
  chain = chain.then(async () => {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    let out;
    try {
      if (cmd === "add") out = await add(Number(rest[0]));
      else if (cmd === "close") {
        const k = Number(rest[0]);
        let done = 0;
        for (const s of sockets) {
          if (done >= k) break;
          if (s.open) {
            s.close();
            done += 1;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
        out = { open: openCount() };
      } else if (cmd === "count") out = count(Number(rest[0]), Number(rest[1]));
      else if (cmd === "arrivals") out = await arrivals(rest[0], Number(rest[1]));
      else if (cmd === "report") out = report(Number(rest[0]), Number(rest[1]), rest[2] === "raw");
      else if (cmd === "quit") {
        for (const s of sockets) if (s.open) s.close();
        process.stdout.write(JSON.stringify({ ok: true }) + "\n", () => process.exit(0));
        return;
      } else out = { error: `unknown command ${cmd}` };
    } catch (error) {
      out = { error: String(error) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  });
});
rl.on("close", () => process.exit(0));
process.stdout.write(JSON.stringify({ ready: true }) + "\n");
