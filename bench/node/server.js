// Baseline (b) for the fan-out benchmark: a Node.js Socket.io server with the
// Redis adapter (@socket.io/redis-adapter), doing what bench/baseline_ws.py does:
// subscribe to one Redis pub/sub channel and relay each message to every
// connected client (all clients join one room, as partners join one group).
//
//   node server.js --port 8766 --redis redis://127.0.0.1:6390/0 --channel bench:fanout
//
// Prints "ready" on stdout once it listens and is subscribed.
"use strict";

const http = require("node:http");
const { parseArgs } = require("node:util");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    redis: { type: "string" },
    channel: { type: "string", default: "bench:fanout" },
  },
});

const ROOM = "partners";

async function main() {
  const pubClient = createClient({ url: args.redis });
  const subClient = pubClient.duplicate();
  const relayClient = pubClient.duplicate();
  await Promise.all([pubClient.connect(), subClient.connect(), relayClient.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(pubClient, subClient),
    transports: ["websocket"],
    perMessageDeflate: false,
    serveClient: false,
  });
  io.on("connection", (socket) => {
    socket.join(ROOM);
  });

  // The relay: one Redis message in, one emit to the room (the adapter also
  // publishes it for other Socket.io nodes, as a multi-instance deployment would).
  await relayClient.subscribe(args.channel, (message) => {
    io.to(ROOM).emit("new_order", message);
  });

  await new Promise((resolve) => httpServer.listen(Number(args.port), "127.0.0.1", resolve));
  process.stdout.write("ready\n");

  const stop = async () => {
    io.close();
    await Promise.allSettled([pubClient.quit(), subClient.quit(), relayClient.quit()]);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
