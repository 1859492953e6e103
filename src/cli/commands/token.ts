import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { LatchError } from "../../errors.js";
import { DEV_ISSUER, MAX_DEV_TOKEN_TTL_SECONDS, mintDevToken } from "../../identity/dev-issuer.js";
import { parseDuration } from "../../identity/parse-duration.js";

interface TokenCommandOptions {
  readonly sub: string;
  readonly group: string[];
  readonly ttl: string;
  readonly config?: string;
  readonly dataDir?: string;
}

const EXAMPLES = `
Examples:
  $ latch token --sub alice --group agents
  $ PGPASSWORD=$(latch token --sub ci-bot --group agents --group readers --ttl 5m) \\
      psql "host=127.0.0.1 port=6432 dbname=analytics user=ci-bot sslmode=require"

The token is signed by the local dev issuer (${DEV_ISSUER}), whose key lives in <data_dir>/dev-issuer.json.
The gateway accepts it only when its config sets identity.dev_issuer: true and it uses the same data dir.
Only the token is printed, so the output can be used directly as a password.`;

/** `latch token`: mint a short-lived dev token. Development only; production tokens come from a real IdP. */
export function registerTokenCommand(program: Command): void {
  program
    .command("token")
    .description("mint a short-lived token from the local dev issuer (development only)")
    .requiredOption("--sub <name>", "subject (principal id) the token is for")
    .option("--group <group>", "group the subject belongs to; repeat for several", collect, [])
    .option("--ttl <duration>", "token lifetime, e.g. 90s, 15m, 1h (at most 24h)", "15m")
    .option("--config <file>", "gateway config; default ./latch.yaml when present")
    .option("--data-dir <dir>", "directory holding the dev issuer key; default: data_dir from the config")
    .addHelpText("after", EXAMPLES)
    .action(async (options: TokenCommandOptions) => {
      process.stdout.write(`${await mintTokenFromCli(options)}\n`);
    });
}

async function mintTokenFromCli(options: TokenCommandOptions): Promise<string> {
  const { config, file } = loadConfig(options.config);
  if (file !== undefined && !config.identity.dev_issuer) {
    throw new LatchError("config_invalid", {
      detail:
        `${file} does not trust the dev issuer, so a token from \`latch token\` would be rejected. ` +
        "For local development, set `identity: { dev_issuer: true }` in that file and restart the gateway.",
    });
  }
  const dataDir = options.dataDir === undefined ? config.data_dir : path.resolve(options.dataDir);
  const ttlSeconds = ttlInSeconds(options.ttl);
  return mintDevToken(dataDir, { subject: options.sub, groups: options.group, ttlSeconds });
}

function ttlInSeconds(text: string): number {
  let milliseconds: number;
  try {
    milliseconds = parseDuration(text);
  } catch (error) {
    throw new LatchError("config_invalid", { detail: `--ttl: ${(error as Error).message}` });
  }
  const seconds = Math.ceil(milliseconds / 1000);
  if (seconds < 1 || seconds > MAX_DEV_TOKEN_TTL_SECONDS) {
    throw new LatchError("config_invalid", { detail: `--ttl must be between 1s and 24h, got ${text}` });
  }
  return seconds;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
