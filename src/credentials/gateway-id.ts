import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const GATEWAY_ID_FILE = "gateway-id";

/**
 * A stable id for this gateway's data directory, created on first start. It marks the upstream roles this
 * gateway creates, so after a crash and restart the reaper recognises its own leftovers and nobody else's.
 */
export function loadOrCreateGatewayId(dataDir: string): string {
  const file = path.join(dataDir, GATEWAY_ID_FILE);
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (/^[0-9a-f]{16}$/.test(existing)) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const id = randomBytes(8).toString("hex");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
