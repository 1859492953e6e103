import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { LatchConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { LatchError } from "../errors.js";
import { generateSignerKey, type NoteSigner, parseSignerKey } from "./signed-note.js";

/** The embedded store's checkpoint key, generated on first start: owner-only, like everything under data_dir. */
export const CHECKPOINT_KEY_FILE = "audit-checkpoint.key";

type CheckpointConfig = Pick<LatchConfig, "audit" | "data_dir" | "store">;

/**
 * The checkpoint signer the config names: `audit.checkpoints.key` (a secret ref holding a
 * `PRIVATE+KEY+...` signer key), else on the embedded store a key under data_dir (created when `create` and
 * absent). Undefined when checkpoints are off, or on a shared store without a key (replicas must share one).
 */
export function loadCheckpointSigner(
  config: CheckpointConfig,
  options: { create: boolean; name?: string },
): NoteSigner | undefined {
  const settings = config.audit.checkpoints;
  if (!settings.enabled) return undefined;
  if (settings.key !== undefined) {
    const text = resolveSecret(settings.key, "audit.checkpoints.key");
    try {
      return parseSignerKey(text);
    } catch (error) {
      throw new LatchError("config_invalid", {
        detail: `audit.checkpoints.key: ${(error as Error).message}; make one with "latch audit key --generate NAME"`,
      });
    }
  }
  if (config.store !== "sqlite") return undefined;
  const file = path.join(config.data_dir, CHECKPOINT_KEY_FILE);
  if (!existsSync(file)) {
    if (!options.create) {
      throw new LatchError("config_invalid", {
        detail: `no checkpoint key at ${file} yet: start the gateway once (it generates one), or set audit.checkpoints.key`,
      });
    }
    const name = settings.name ?? options.name ?? "latch-audit";
    writeFileSync(file, `${generateSignerKey(name, randomBytes(32))}\n`, { mode: 0o600, flag: "wx" });
  }
  try {
    return parseSignerKey(readFileSync(file, "utf8"));
  } catch (error) {
    throw new LatchError("config_invalid", {
      detail: `checkpoint key ${file}: ${(error as Error).message}; move it aside to have a new one generated (checkpoints signed by the old key then need the old verifier key)`,
    });
  }
}
