import { readFileSync } from "node:fs";
import { LatchError } from "../errors.js";
import type { SecretRef } from "./schema.js";

/**
 * Resolves a secret reference at the moment it is needed. The error names the reference, never the value.
 */
export function resolveSecret(ref: SecretRef, purpose: string): string {
  if ("env" in ref) {
    const value = process.env[ref.env];
    if (value === undefined || value === "") {
      throw new LatchError("config_invalid", {
        detail: `${purpose}: environment variable ${ref.env} is not set; export it before starting the gateway`,
      });
    }
    return value;
  }
  try {
    return readFileSync(ref.file, "utf8").replace(/\r?\n$/, "");
  } catch (cause) {
    throw new LatchError("config_invalid", {
      detail: `${purpose}: cannot read secret file ${ref.file}: ${(cause as NodeJS.ErrnoException).code ?? "error"}`,
    });
  }
}
