// The client side of the Socket.io fan-out baseline, driven by bench/fanout.py.
// Opens N socket.io-client connections (websocket transport, one process),
// then, per repeat, PUBLISHes one message to the Redis channel the server relays
// and times its arrival at every client, from just before PUBLISH ("start"), from
// PUBLISH's reply ("ack") and from the moment a subscriber of our own sees it
// pass through Redis ("hand-off") — the same three clocks bench/fanout.py uses.
// Prints one JSON object on stdout.
//
//   node client.js --url http://127.0.0.1:8766 --redis redis://127.0.0.1:6390/0 \
//       --clients 100 --repeats 5 --payload-file payload.json
"use strict";

const fs = require("node:fs");
const { parseArgs } = require("node:util");
const { io } = require("socket.io-client");
const { createClient } = require("redis");

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    redis: { type: "string" },
    channel: { type: "string", default: "bench:fanout" },
    clients: { type: "string", default: "10" },
    repeats: { type: "string", default: "5" },
    warmup: { type: "string", default: "1" },
    "timeout-ms": { type: "string", default: "30000" },
    "payload-file": { type: "string" },
    concurrency: { type: "string", default: "50" },
  },
});

const N = Number(args.clients);
const TIMEOUT_MS = Number(args["timeout-ms"]);
const template = JSON.parse(fs.readFileSync(args["payload-file"], "utf8"));

const now = () => process.hrtime.bigint();
const ms = (from, to) => Number(to - from) / 1e6;
const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis));

// ref -> hand-off time (bigint), seen by our own subscriber on the relay channel
const handoffs = new Map();

// ref -> {times: bigint[N], count, done}
const arrivals = new Map();
function arrival(ref) {
  let entry = arrivals.get(ref);
  if (!entry) {
    entry = { times: new Array(N), count: 0, done: null };
    entry.finished = new Promise((resolve) => (entry.done = resolve));
    arrivals.set(ref, entry);
  }
  return entry;
}

function connectOne(index) {
  return new Promise((resolve, reject) => {
    const socket = io(args.url, {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      timeout: 60000,
    });
    socket.on("new_order", (message) => {
      const t = now();
      const entry = arrival(JSON.parse(message).ref);
      if (entry.times[index] === undefined) {
        entry.times[index] = t;
        entry.count += 1;
        if (entry.count === N) entry.done();
      }
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

async function connectAll() {
  const sockets = new Array(N);
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const index = next++;
      sockets[index] = await connectOne(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Number(args.concurrency), N) }, worker));
  return sockets;
}

async function fire(publisher, ref) {
  const payload = JSON.stringify({ ...template, ref });
  const entry = arrival(ref);
  const start = now();
  await publisher.publish(args.channel, payload);
  const ack = now();
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, TIMEOUT_MS)));
  await Promise.race([entry.finished, timeout]);
  clearTimeout(timer);
  const got = entry.times.filter((t) => t !== undefined);
  for (let waited = 0; !handoffs.has(ref) && waited < 1000; waited += 5) await sleep(5);
  const handoff = handoffs.get(ref);
  arrivals.delete(ref);
  handoffs.delete(ref);
  return {
    from_start_ms: got.map((t) => ms(start, t)),
    from_ack_ms: got.map((t) => ms(ack, t)),
    from_handoff_ms: handoff === undefined ? [] : got.map((t) => ms(handoff, t)),
    trigger_ms: ms(start, ack),
    handoff_ms: handoff === undefined ? null : ms(start, handoff),
    missing: N - got.length,
  };
}

async function main() {
  const publisher = createClient({ url: args.redis });
  await publisher.connect();
  const watcher = publisher.duplicate();
  await watcher.connect();
  await watcher.subscribe(args.channel, (message) => {
    const t = now();
    handoffs.set(JSON.parse(message).ref, t);
  });
  const connectStart = now();
  const sockets = await connectAll();
  const connectSeconds = ms(connectStart, now()) / 1000;

  for (let i = 0; i < Number(args.warmup); i++) {
    await fire(publisher, `warmup-${i}`);
    await sleep(50);
  }
  const repeats = [];
  for (let i = 0; i < Number(args.repeats); i++) {
    repeats.push(await fire(publisher, `bench-${i}`));
    await sleep(100);
  }
  for (const socket of sockets) socket.disconnect();
  await Promise.allSettled([publisher.quit(), watcher.quit()]);
  // A pipe is written asynchronously: exit only once the whole result is out.
  process.stdout.write(JSON.stringify({ clients: N, connect_s: connectSeconds, repeats }) + "\n", () =>
    process.exit(0),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
