// Test-only SurrealDB "server": one embedded engine (@surrealdb/node, SurrealDB core 3.0.x)
// served over SurrealDB's WebSocket RPC protocol (ws://127.0.0.1:PORT/rpc, CBOR frames).
//
// Why: no `surreal start` binary can be installed on these machines, yet the product's
// ws:// code path and tests with several server processes need one shared database.
// What it is not: a deployment target. Every socket shares ONE RPC session (one ns/db,
// one auth state), root is defined from BRIDGE_USER/BRIDGE_PASS, and it depends on an
// internal binding of the package (the .node file loaded by path).
//
// Usage: node bridge.js PORT [ENDPOINT]   (ENDPOINT default mem://; prints "listening PORT")

import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decode as cborDecode, encode } from "cborg";
import { WebSocketServer } from "ws";

const require = createRequire(import.meta.url);

// SurrealDB tags its values (record ids, datetimes, ...). The bridge only reads request ids and
// error maps, so every tag decodes to its inner value; the engine's own bytes are never re-encoded.
const passThroughTags = [];
for (let tag = 0; tag < 64; tag++) passThroughTags[tag] = (inner) => inner;
const decode = (bytes) => cborDecode(bytes, { tags: passThroughTags, useMaps: false });
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "node_modules", "@surrealdb", "node", "dist");
const arch = { x64: "x64", arm64: "arm64" }[process.arch];
const binding = join(dist, `surrealdb-node.linux-${arch}-gnu.node`);
if (!existsSync(binding)) {
  console.error(`native engine not found at ${binding}; run npm ci in ${here}`);
  process.exit(2);
}
const { SurrealNodeEngine } = require(binding);

const port = Number(process.argv[2] || 0);
const endpoint = process.argv[3] || "mem://";
const user = process.env.BRIDGE_USER || "root";
const pass = process.env.BRIDGE_PASS || "root";

const engine = await SurrealNodeEngine.connect(endpoint, {});
const setup = await engine.execute(
  encode({
    id: "setup",
    method: "query",
    params: [`DEFINE USER IF NOT EXISTS ${user} ON ROOT PASSWORD '${pass.replaceAll("'", "")}' ROLES OWNER;`],
  }),
);
const setupAnswer = decode(setup);
if (setupAnswer && setupAnswer.error) {
  console.error("could not define the root user", setupAnswer.error);
  process.exit(2);
}

// The engine answers with the bare result (or a map holding only "error"). The RPC frame
// `{id, result}` is assembled around the engine's bytes without decoding them, so its own
// tagged values (record ids, datetimes, ...) pass through untouched.
function frame(answer, id) {
  const head = answer[0];
  if (head === 0xa1) {
    const decoded = decode(answer);
    if (decoded && Object.keys(decoded).length === 1 && "error" in decoded) return encode({ id, error: decoded.error });
  }
  return Buffer.concat([Buffer.from([0xa2]), encode("id"), encode(id), encode("result"), answer]);
}

const sockets = new Set();
const server = new WebSocketServer({ host: "127.0.0.1", port, path: "/rpc", handleProtocols: () => "cbor" });

server.on("connection", (socket) => {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("message", async (data) => {
    let id = null;
    try {
      const request = decode(data);
      id = request && request.id !== undefined ? request.id : null;
      const answer = Buffer.from(await engine.execute(data));
      if (socket.readyState === socket.OPEN) socket.send(frame(answer, id));
    } catch (err) {
      if (socket.readyState === socket.OPEN) {
        socket.send(encode({ id, error: { code: -32000, message: String(err && err.message ? err.message : err) } }));
      }
    }
  });
});

// Live-query notifications go to every socket (one shared session).
(async () => {
  const receiver = await engine.notifications();
  for (;;) {
    const value = await receiver.recv();
    if (value === null) break;
    const frame = encode({ result: decode(value) });
    for (const socket of sockets) if (socket.readyState === socket.OPEN) socket.send(frame);
  }
})();

server.on("listening", () => console.log(`listening ${server.address().port}`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    for (const socket of sockets) socket.terminate();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
