// One-shot for deploy/docker-compose.yml (service latch-keys): writes the key material every replica behind the
// load balancer must share into one directory (the volume latch-shared), once; later runs leave it as it is.
//
//   <dir>/tls/gateway.crt, gateway.key   the certificate every replica presents (tls.cert_file / key_file)
//   <dir>/dev-issuer.json                the DEMO dev issuer key (each replica copies it into its data_dir)
//
// Generated per replica instead, each would have its own: a token minted on one replica would be refused by the
// other half the time, and clients would see a different certificate on every other connection. It runs in
// the Latch image (LATCH_APP_DIR, default /app) so it uses the gateway's own code and dependencies; nothing
// here is secret material from outside, and nothing is printed but file names.
//
//   node shared-keys.mjs [dir]            default dir: /var/lib/latch
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const appDir = process.env.LATCH_APP_DIR ?? "/app";
const dir = path.resolve(process.argv[2] ?? "/var/lib/latch");
const require = createRequire(path.join(appDir, "package.json"));
const { generate } = require("selfsigned");
const devIssuer = await import(pathToFileURL(path.join(appDir, "dist/src/identity/dev-issuer.js")).href);

mkdirSync(dir, { recursive: true, mode: 0o700 });

// The dev issuer key, created the way `latch token` creates it (exclusive create, 0600); kept if present.
await devIssuer.loadOrCreateDevIssuer(dir);
console.log(`dev issuer key: ${devIssuer.devIssuerPath(dir)}`);

// One self-signed certificate for the names clients use here: the load balancer, the replicas, loopback.
const tlsDir = path.join(dir, "tls");
const certFile = path.join(tlsDir, "gateway.crt");
const keyFile = path.join(tlsDir, "gateway.key");
if (!existsSync(certFile) || !existsSync(keyFile)) {
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const names = ["localhost", "lb", "latch-1", "latch-2"];
  const pems = await generate([{ name: "commonName", value: "latch-gateway" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: new Date(Date.now() + 825 * 86_400_000),
    extensions: [
      {
        name: "subjectAltName",
        altNames: [...names.map((value) => ({ type: 2, value })), { type: 7, ip: "127.0.0.1" }],
      },
    ],
  });
  writeFileSync(keyFile, pems.private, { mode: 0o600 });
  writeFileSync(certFile, pems.cert, { mode: 0o600 });
}
console.log(`certificate: ${certFile}`);
