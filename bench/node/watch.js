// The fan-out benchmark's hand-off clock: a Redis subscriber in a process of its own
// (so nothing else delays it), printing the wall-clock time (ms since the epoch) at
// which each event passes through Redis, one JSON line each.
//
//   node watch.js --redis redis://127.0.0.1:6390/0 --channel asgi__group__partners
//   node watch.js --redis redis://127.0.0.1:6390/0 --core
//
// --channel: a PUBLISH on that channel (the pub/sub layer's group channel, or the
// baselines' relay channel). --core: the core layer does not PUBLISH; it ZADDs the
// message to the receiving process's channel key, seen through keyspace notifications.
// Prints {"ready": true} once subscribed.
"use strict";

const { parseArgs } = require("node:util");
const { performance } = require("node:perf_hooks");
const { createClient } = require("redis");

const { values: args } = parseArgs({
  options: {
    redis: { type: "string" },
    channel: { type: "string", default: "" },
    core: { type: "boolean", default: false },
  },
});

const wallMs = () => performance.timeOrigin + performance.now();
const seen = () => process.stdout.write(JSON.stringify({ t: wallMs() }) + "\n");

async function main() {
  const client = createClient({ url: args.redis });
  await client.connect();
  if (args.core) {
    await client.configSet("notify-keyspace-events", "Kz");
    await client.pSubscribe("__keyspace@0__:asgispecific.*", (message, channel) => {
      if (message === "zadd" && channel.endsWith("!")) seen();
    });
  } else {
    await client.subscribe(args.channel, seen, true);
  }
  process.stdout.write(JSON.stringify({ ready: true }) + "\n");
  const stop = () => process.exit(0);
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
}

main().catch((error) => {
  process.stderr.write(String(error) + "\n");
  process.exit(1);
});
