// The cost floor of any Node.js proxy, to read a target beside: nothing but what Node itself pays to relay.
//   node bench/node-floor.mjs tcp <listenPort> <targetPort>
//     every connection piped both ways to 127.0.0.1:<targetPort> (what nginx's stream module does)
//   node bench/node-floor.mjs http <listenPort> <upstreamPort> <certFile> <keyFile>
//     HTTPS front (node:https), each request forwarded with undici to http://127.0.0.1:<upstreamPort> and the
//     answer streamed back (what nginx's proxy_pass does): no policy, audit, injection or masking.
// Plain JavaScript so the bench spawns it with `node` alone, like the other reference processes.
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { connect, createServer } from "node:net";
import { Pool } from "undici";

const [mode, listenPort, target, certFile, keyFile] = process.argv.slice(2);

if (mode === "tcp") {
  createServer({ noDelay: true }, (client) => {
    const upstream = connect({ host: "127.0.0.1", port: Number(target), noDelay: true });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  }).listen(Number(listenPort), "127.0.0.1");
} else if (mode === "http") {
  const pool = new Pool(`http://127.0.0.1:${target}`, { connections: 64 });
  createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    pool
      .request({ method: req.method, path: req.url, headers: { accept: req.headers.accept ?? "*/*" } })
      .then(({ statusCode, headers, body }) => {
        res.writeHead(statusCode, headers);
        body.pipe(res);
      })
      .catch(() => {
        res.writeHead(502).end();
      });
  }).listen(Number(listenPort), "127.0.0.1");
} else {
  console.error(
    "usage: node bench/node-floor.mjs tcp <listenPort> <targetPort> | http <listenPort> <upstreamPort> <cert> <key>",
  );
  process.exit(2);
}
