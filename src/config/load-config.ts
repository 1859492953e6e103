import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { LatchError } from "../errors.js";
import { configSchema, type LatchConfig } from "./schema.js";
import { missingUpstreamTlsChoices } from "./upstream-tls-choice.js";

export const DEFAULT_CONFIG_FILE = "latch.yaml";

export interface LoadedConfig {
  readonly config: LatchConfig;
  /** Absolute path of the file read, or undefined when running on embedded defaults. */
  readonly file: string | undefined;
  /** Directory relative paths in the config resolve against. */
  readonly baseDir: string;
}

/**
 * Reads and validates the config. Without an explicit path, uses ./latch.yaml when present, else defaults.
 * Errors name every bad key and what is expected, so an operator can fix them in one pass.
 */
export function loadConfig(explicitPath?: string, overrides: Record<string, unknown> = {}): LoadedConfig {
  const file = explicitPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (cause) {
      throw new LatchError("config_invalid", {
        detail: `cannot read config file ${file}: ${(cause as Error).message}`,
      });
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (cause) {
      throw new LatchError("config_invalid", {
        detail: `${file} is not valid YAML: ${(cause as Error).message}`,
      });
    }
  }
  const merged = { ...(raw as Record<string, unknown>), ...overrides };
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new LatchError("config_invalid", { detail: formatIssues(file ?? "defaults", result.error.issues) });
  }
  const tlsChoices = missingUpstreamTlsChoices(merged);
  if (tlsChoices.length > 0) {
    throw new LatchError("config_invalid", {
      detail: `invalid config (${file ?? "defaults"}):\n${tlsChoices.join("\n")}`,
    });
  }
  const absolute = file === undefined ? undefined : path.resolve(file);
  const baseDir = absolute === undefined ? process.cwd() : path.dirname(absolute);
  return { config: resolvePaths(result.data, baseDir), file: absolute, baseDir };
}

export function formatIssues(source: string, issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.map((issue) => {
    const key = issue.path.length === 0 ? "(top level)" : issue.path.join(".");
    let message = issue.message;
    // A refused record key (a reserved connection name) says why, not only "Invalid key in record".
    if (issue.code === "invalid_key") message = issue.issues.map((inner) => inner.message).join("; ");
    if (issue.code === "unrecognized_keys")
      message = `unknown key(s) ${issue.keys.join(", ")}: remove or fix the spelling`;
    if (issue.code === "invalid_union" && key.endsWith("password")) {
      message = "secrets must be references: { env: VAR_NAME } or { file: /path/to/secret }, never literals";
    }
    return `  - ${key}: ${message}`;
  });
  return `invalid config (${source}):\n${lines.join("\n")}`;
}

function resolvePaths(config: LatchConfig, baseDir: string): LatchConfig {
  const abs = (p: string) => path.resolve(baseDir, p);
  return {
    ...config,
    data_dir: abs(config.data_dir),
    policies: abs(config.policies),
    tls: {
      ...config.tls,
      cert_file: config.tls.cert_file === undefined ? undefined : abs(config.tls.cert_file),
      key_file: config.tls.key_file === undefined ? undefined : abs(config.tls.key_file),
    },
  };
}
