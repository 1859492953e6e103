import type { LatchConfig } from "../../config/schema.js";
import { loadOrCreateDevIssuer } from "../../identity/dev-issuer.js";
import { loadOrCreateHostKey } from "../../protocols/ssh/host-key.js";
import { ownerOnlyDataDir } from "../../store/owner-only.js";
import { loadTlsMaterial } from "../tls-material.js";

/**
 * Creates, before any worker starts, every file under data_dir that a gateway generates on its first start and
 * that all workers must share: the TLS certificate (else workers racing to generate one could each keep a
 * different key, and a client pinning it would see another on every other connection), the SSH host key and
 * the dev issuer key. Workers then only read them. Everything else a worker keeps is in the shared store or in
 * its own memory.
 */
export async function prepareSharedFiles(config: LatchConfig): Promise<void> {
  ownerOnlyDataDir(config.data_dir, []);
  await loadTlsMaterial(config);
  if (Object.values(config.connections).some((connection) => connection.type === "ssh"))
    loadOrCreateHostKey(config.data_dir);
  if (config.identity.dev_issuer) await loadOrCreateDevIssuer(config.data_dir);
}
