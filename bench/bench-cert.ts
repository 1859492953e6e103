import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";

/**
 * A self-signed EC certificate for 127.0.0.1 written into `dir` (key owner-only), with the PEM texts: what every HTTP bench target
 * (Latch, nginx, the Node floor) serves, so their TLS costs compare like for like.
 */
export async function writeBenchCert(
  dir: string,
): Promise<{ cert: string; key: string; certPem: string; keyPem: string }> {
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
  });
  const cert = join(dir, "bench.crt");
  const key = join(dir, "bench.key");
  await writeFile(cert, pems.cert);
  await writeFile(key, pems.private, { mode: 0o600 });
  return { cert, key, certPem: pems.cert, keyPem: pems.private };
}
