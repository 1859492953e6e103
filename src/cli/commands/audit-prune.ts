import path from "node:path";
import type { Command } from "commander";
import { planPrune, pruneCutoff } from "../../audit-retention/audit-pruner.js";
import { loadConfig } from "../../config/load-config.js";
import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { assertSqliteStore, sqliteStorePath } from "../../store/open-stores.js";
import { createSqliteAuditRetention } from "../../store/sqlite-audit-retention.js";
import { createSqliteExportCursors } from "../../store/sqlite-export-cursors.js";
import { createSqliteLiveSessionStore } from "../../store/sqlite-live-sessions.js";

interface PruneOptions {
  readonly config?: string;
  readonly dataDir?: string;
  readonly dryRun?: boolean;
  readonly retention?: string;
  readonly json?: boolean;
}

export function registerPruneCommand(audit: Command, withStoreOptions: (c: Command) => Command): void {
  withStoreOptions(
    audit
      .command("prune")
      .description(
        "show what audit.retention would delete now: events older than it, up to the newest signed checkpoint, never past an export sink's cursor (the gateway prunes every audit.prune_every)",
      )
      .option("--dry-run", "only report (required: pruning itself runs in the gateway)")
      .option("--retention <duration>", "another retention than audit.retention, e.g. 400d")
      .option("--json", "print the plan as JSON"),
  ).action(async (options: PruneOptions) => {
    process.exitCode = await runAuditPrune(options);
  });
}

export async function runAuditPrune(options: PruneOptions): Promise<number> {
  if (!options.dryRun)
    throw new LatchError("config_invalid", {
      detail:
        "latch audit prune only reports (--dry-run): the gateway prunes every audit.prune_every, and records each prune in the chain",
    });
  const overrides = options.dataDir === undefined ? {} : { data_dir: path.resolve(options.dataDir) };
  const { config } = loadConfig(options.config, overrides);
  assertSqliteStore(config, "latch audit prune");
  const retention = options.retention ?? config.audit.retention;
  if (retention === undefined)
    throw new LatchError("config_invalid", {
      detail: "no retention: set audit.retention (e.g. 400d) or pass --retention",
    });
  const file = sqliteStorePath(config);
  const store = createSqliteAuditRetention(file);
  const cursors = createSqliteExportCursors(file);
  const liveSessions = createSqliteLiveSessionStore(file);
  try {
    const sinks = config.audit.export.map((sink) => sink.name);
    const pruning = { retention: store, retentionMs: parseDuration(retention), sinks, cursors, liveSessions };
    const cutoff = await pruneCutoff(pruning);
    const plan = await planPrune(pruning, cutoff);
    const { before, heldBy } = cutoff;
    const cursorList = Object.fromEntries(
      await Promise.all(sinks.map(async (s) => [s, await cursors.get(s)])),
    );
    if (options.json) {
      process.stdout.write(
        `${JSON.stringify({ retention, plan: plan ?? null, cursors: cursorList, heldBackBySession: heldBy ?? null }, null, 2)}\n`,
      );
      return 0;
    }
    if (plan === undefined) {
      process.stdout.write(
        `nothing to prune with retention ${retention}: no signed checkpoint older than that whose events every sink has had\n`,
      );
    } else {
      process.stdout.write(
        `would delete ${plan.events} events, through event ${plan.through} (${plan.throughTs}); the checkpoint at event ${plan.anchorSeq} stays and anchors the rest\n`,
      );
    }
    for (const [sink, seq] of Object.entries(cursorList))
      process.stdout.write(`  export sink ${sink}: delivered through event ${seq}\n`);
    if (heldBy !== undefined)
      process.stdout.write(
        `  held back to ${new Date(before).toISOString()} by session ${heldBy}, still open: its session_start stays until it ends\n`,
      );
    return 0;
  } finally {
    store.close();
    cursors.close();
    liveSessions.close();
  }
}
