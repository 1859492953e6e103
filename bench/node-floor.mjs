// The cost floor of any Node.js proxy, to read a target beside: nothing but what Node itself pays to relay.
//   node bench/node-floor.mjs tcp <listenPort> <targetPort> [--workers N]
//     every connection piped both ways to 127.0.0.1:<targetPort> (what nginx's stream module does)
//   node bench/node-floor.mjs pg-tls <listenPort> <targetPort> <certFile> <keyFile> [--workers N]
//     the same pipe for PostgreSQL clients, with TLS terminated as Latch does: an SSLRequest is answered 'S'
//     and the socket upgraded in place (node:tls), the upstream leg plaintext; a client that asks for no TLS
//     is piped as in `tcp`.
//   node bench/node-floor.mjs http <listenPort> <upstreamPort> <certFile> <keyFile> [--workers N]
//     HTTPS front (node:https), each request forwarded with undici to http://127.0.0.1:<upstreamPort> and the
//     answer streamed back (what nginx's proxy_pass does): no policy, audit, injection or masking.
// --workers N (N > 1): N processes with node:cluster sharing the listener (the primary accepts and hands each
// connection to a worker in turn, as `latch serve --workers N` does): does a second core lift the floor?
// Prints "ready: N workers" once every worker listens. Plain JavaScript so the bench spawns it with `node` alone.
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { connect, createServer } from "node:net";
import { createSecureContext, TLSSocket } from "node:tls";
import { Pool } from "undici";

const argv = process.argv.slice(2);
const flag = argv.indexOf("--workers");
const workers = flag === -1 ? 1 : Number(argv.splice(flag, 2)[1]);
const [mode, listenPort, target, certFile, keyFile] = argv;
const USAGE =
  "usage: node bench/node-floor.mjs tcp <listenPort> <targetPort> | pg-tls <listenPort> <targetPort> <cert> <key> | http <listenPort> <upstreamPort> <cert> <key>  [--workers N]";
if (!["tcp", "pg-tls", "http"].includes(mode) || !Number.isInteger(workers) || workers < 1) {
  console.error(USAGE);
  process.exit(2);
}

if (workers > 1 && cluster.isPrimary) {
  let listening = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().once("listening", () => {
      if (++listening === workers) console.log(`ready: ${workers} workers`);
    });
  }
  // A worker that dies leaves a floor that is no longer the one measured: stop, the bench reports it.
  cluster.on("exit", () => process.exit(1));
  process.once("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  const server = serve();
  server.listen(Number(listenPort), "127.0.0.1", () => {
    if (workers === 1) console.log("ready: 1 process");
  });
}

function serve() {
  if (mode === "http") {
    const pool = new Pool(`http://127.0.0.1:${target}`, { connections: 64 });
    return createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
      pool
        .request({ method: req.method, path: req.url, headers: { accept: req.headers.accept ?? "*/*" } })
        .then(({ statusCode, headers, body }) => {
          res.writeHead(statusCode, headers);
          body.pipe(res);
        })
        .catch(() => {
          res.writeHead(502).end();
        });
    });
  }
  if (mode === "tcp") return createServer({ noDelay: true }, (client) => relay(client));
  const context = createSecureContext({
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    minVersion: "TLSv1.2",
  });
  return createServer({ noDelay: true }, (client) => negotiate(client, context));
}

/** Pipes `client` to a new upstream connection both ways; `first` was already read from the client. */
function relay(client, first) {
  const upstream = connect({ host: "127.0.0.1", port: Number(target), noDelay: true });
  if (first !== undefined && first.length > 0) upstream.write(first);
  client.pipe(upstream).pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", close).on("close", close);
  upstream.on("error", close).on("close", close);
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** PostgreSQL's opening: SSLRequest -> 'S' and TLS; GSSENCRequest -> 'N' and wait again; else plaintext. */
function negotiate(client, context) {
  client.once("error", () => client.destroy());
  client.once("data", (chunk) => {
    client.pause();
    const code = chunk.length >= 8 && chunk.readUInt32BE(0) === 8 ? chunk.readUInt32BE(4) : 0;
    if (code === GSSENC_REQUEST) {
      client.write("N");
      client.resume();
      negotiate(client, context);
    } else if (code === SSL_REQUEST) {
      client.write("S");
      const secure = new TLSSocket(client, { isServer: true, secureContext: context });
      secure.once("secure", () => relay(secure, chunk.subarray(8)));
      secure.once("error", () => secure.destroy());
    } else {
      relay(client, chunk);
      client.resume();
    }
  });
}
