import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { generate } from "selfsigned";
import type { LatchConfig } from "../config/schema.js";

export interface TlsMaterial {
  readonly context: tls.SecureContext;
  readonly certFile: string;
  readonly generated: boolean;
}

/**
 * The configured certificate, or one generated once under data_dir and reused, so clients can pin it.
 */
export async function loadTlsMaterial(config: LatchConfig): Promise<TlsMaterial> {
  let certFile = config.tls.cert_file;
  let keyFile = config.tls.key_file;
  let generated = false;
  if (certFile === undefined || keyFile === undefined) {
    const dir = path.join(config.data_dir, "tls");
    certFile = path.join(dir, "gateway.crt");
    keyFile = path.join(dir, "gateway.key");
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const pems = await generate([{ name: "commonName", value: "latch-gateway" }], {
        keyType: "ec",
        algorithm: "sha256",
        notAfterDate: new Date(Date.now() + 825 * 86_400_000),
        extensions: [
          {
            name: "subjectAltName",
            altNames: [
              { type: 2, value: "localhost" },
              { type: 7, ip: "127.0.0.1" },
            ],
          },
        ],
      });
      writeFileSync(keyFile, pems.private, { mode: 0o600 });
      // Public, but data_dir stays owner-only (clients that pin it read it as the operator, or get a copy).
      writeFileSync(certFile, pems.cert, { mode: 0o600 });
      generated = true;
    }
  }
  const context = tls.createSecureContext({
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    minVersion: "TLSv1.2",
  });
  return { context, certFile, generated };
}
