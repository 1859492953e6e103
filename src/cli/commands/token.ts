import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { LatchError } from "../../errors.js";
import {
  DEV_ISSUER,
  DEV_ISSUER_FILE,
  devIssuerPath,
  MAX_DEV_TOKEN_TTL_SECONDS,
  mintDevToken,
} from "../../identity/dev-issuer.js";
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
  $ latch token --config latch.yaml --sub alice --group agents
  $ PGPASSWORD=$(latch token --sub ci-bot --group agents --group readers --ttl 5m) \\
      psql "host=127.0.0.1 port=6432 dbname=analytics user=ci-bot sslmode=require"
  $ latch token --data-dir .latch-demo/gateway --sub demo-agent --group agents   # for \`latch demo\`

The token is signed by the local dev issuer (${DEV_ISSUER}), whose key lives in <data_dir>/${DEV_ISSUER_FILE}.
The gateway accepts it only when its config sets identity.dev_issuer: true and it uses the same data dir,
so without a config (--config, or ./latch.yaml) latch token refuses: \`latch serve\` on its embedded
defaults would reject the token. Only a --data-dir already holding a dev issuer key (\`latch demo\`'s)
stands in for a config.
The output is the token alone, so it can be used directly as a password.`;

/** `latch token`: mint a short-lived dev token. Development only; production tokens come from a real IdP. */
export function registerTokenCommand(program: Command): void {
  program
    .command("token")
    .description("mint a short-lived token from the local dev issuer (development only)")
    .requiredOption("--sub <name>", "subject (principal id) the token is for")
    .option("--group <group>", "group the subject belongs to; repeat for several", collect, [])
    .option("--ttl <duration>", "token lifetime, e.g. 90s, 15m, 1h (at most 24h)", "15m")
    .option(
      "-c, --config <file>",
      "config of the gateway the token is for (identity.dev_issuer: true); default ./latch.yaml",
    )
    .option("--data-dir <dir>", "directory holding the dev issuer key; default: data_dir from the config")
    .addHelpText("after", EXAMPLES)
    .action(async (options: TokenCommandOptions) => {
      process.stdout.write(`${await mintTokenFromCli(options)}\n`);
    });
}

async function mintTokenFromCli(options: TokenCommandOptions): Promise<string> {
  const dataDir = trustedDevIssuerDir(options);
  const ttlSeconds = ttlInSeconds(options.ttl);
  return mintDevToken(dataDir, { subject: options.sub, groups: options.group, ttlSeconds });
}

const NO_CONFIG_FIX =
  "`latch token` mints from the dev issuer of a gateway whose config sets identity.dev_issuer: true, and " +
  "`latch serve` without a config does not trust it. Pass --config latch.yaml (a config with " +
  "`identity: { dev_issuer: true }`, as `latch serve --config latch.yaml` runs it), or, for a running " +
  "`latch demo`, --data-dir .latch-demo/gateway";

/**
 * The data dir whose dev issuer key signs the token, once it is clear that a gateway trusts that key: a token
 * every gateway rejects is worse than a refusal. `latch serve` trusts the dev issuer only when its config
 * says so (its embedded defaults never do), so the config decides. Without one, the only sign of such a
 * gateway is its key already sitting in an explicit --data-dir (`latch demo` prints that command).
 */
function trustedDevIssuerDir(options: TokenCommandOptions): string {
  const explicitDir = options.dataDir === undefined ? undefined : path.resolve(options.dataDir);
  const { config, file } = loadConfig(options.config);
  if (file === undefined) {
    if (explicitDir !== undefined && existsSync(devIssuerPath(explicitDir))) return explicitDir;
    const found =
      explicitDir === undefined
        ? "no config"
        : `no config, and ${explicitDir} holds no dev issuer key (${DEV_ISSUER_FILE})`;
    throw new LatchError("config_invalid", { detail: `${found}: ${NO_CONFIG_FIX}.` });
  }
  if (!config.identity.dev_issuer) {
    throw new LatchError("config_invalid", {
      detail:
        `${file} does not trust the dev issuer, so a token from \`latch token\` would be rejected. ` +
        "For local development, set `identity: { dev_issuer: true }` in that file and restart the gateway.",
    });
  }
  return explicitDir ?? config.data_dir;
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
