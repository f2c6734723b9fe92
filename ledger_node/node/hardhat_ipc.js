// The Hardhat (EDR) engine of the embedded node, served as anvil serves its IPC (ledger_node/node/engine_client.py):
// JSON-RPC requests one per line on a Unix socket, each answer one line of JSON. `hardhat node` only serves HTTP
// on a TCP port, which any local program (or web page) could call; this serves the same provider, through
// Hardhat's own JSON-RPC request handler, on the socket only. With a port in the settings (an engine that is not
// sealed: benchmarks), Hardhat's HTTP server runs too.
// Run by ledger_node/node/engine.py with HARDHAT_CONFIG=hardhat.config.js and CITYPOINTS_ENGINE_SETTINGS.
const net = require("net");
const s = JSON.parse(process.env.CITYPOINTS_ENGINE_SETTINGS || "{}");
const hre = require("hardhat");
const { JsonRpcHandler } = require("hardhat/internal/hardhat-network/jsonrpc/handler");
const { JsonRpcServer } = require("hardhat/internal/hardhat-network/jsonrpc/server");

const provider = hre.network.provider;
const handler = new JsonRpcHandler(provider);

async function answer(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (error) {
    return { jsonrpc: "2.0", id: null, error: { code: -32700, message: `Parse error: ${error.message}` } };
  }
  if (Array.isArray(request)) {
    return Promise.all(request.map((r) => handler._handleSingleRequest(r)));
  }
  return handler._handleSingleRequest(request);
}

function serve(conn) {
  let parts = [];
  conn.on("data", (data) => {
    let start = 0;
    let nl;
    while ((nl = data.indexOf(10, start)) >= 0) {
      parts.push(data.subarray(start, nl));
      const line = Buffer.concat(parts).toString("utf8");
      parts = [];
      start = nl + 1;
      if (line.trim()) {
        answer(line).then((reply) => conn.write(JSON.stringify(reply) + "\n"));
      }
    }
    if (start < data.length) parts.push(data.subarray(start));
  });
  conn.on("error", () => {});
}

async function main() {
  if (s.port) {
    await new JsonRpcServer({ hostname: s.hostname || "127.0.0.1", port: s.port, provider }).listen();
  }
  process.chdir(s.socketDir); // the socket is named from its directory: a deep home exceeds a socket path's limit
  net.createServer(serve).listen(s.socket, () => console.log(`serving JSON-RPC on ${s.socket}`));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
