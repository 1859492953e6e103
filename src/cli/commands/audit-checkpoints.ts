import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadCheckpointSigner } from "../../audit/checkpoint-key.js";
import { CHECKPOINT_KIND } from "../../audit/checkpoint-note.js";
import {
  generateSignerKey,
  isValidKeyName,
  type NoteVerifier,
  parseVerifierKey,
} from "../../audit/signed-note.js";
import type { PrunedPrefix } from "../../audit/verify-chain.js";
import {
  type CheckpointReport,
  checkCheckpointNote,
  type StoredCheckpoint,
  verifyCheckpoints,
} from "../../audit/verify-checkpoints.js";
import { loadConfig } from "../../config/load-config.js";
import { LatchError } from "../../errors.js";
import { openAuditReader } from "../../store/open-audit-reader.js";
import { type AuditReader, MAX_PAGE_SIZE } from "../../store/store.js";

interface StoreOptions {
  readonly config?: string;
  readonly dataDir?: string;
}

/** `latch audit checkpoint` and `latch audit key`: what an external witness keeps and verifies with. */
export function registerCheckpointCommands(audit: Command, withStoreOptions: (c: Command) => Command): void {
  withStoreOptions(
    audit
      .command("checkpoint")
      .description(
        "print the latest signed checkpoint (C2SP signed note of seq, head hash and time) for an external witness to keep",
      )
      .option("--json", "print the checkpoint event as JSON"),
  ).action(async (options: StoreOptions & { json?: boolean }) => {
    process.exitCode = await runAuditCheckpoint(options);
  });
  withStoreOptions(
    audit
      .command("key")
      .description(
        "print the verifier key of the checkpoint signer (for latch audit verify --key), or --generate a new signer key",
      )
      .option(
        "--generate <name>",
        "print a new Ed25519 signer key for audit.checkpoints.key (keep it secret)",
      ),
  ).action((options: StoreOptions & { generate?: string }) => {
    process.exitCode = runAuditKey(options);
  });
}

export async function runAuditCheckpoint(options: StoreOptions & { json?: boolean }): Promise<number> {
  const { reader, close } = openAuditReader(storeConfig(options));
  try {
    let latest: StoredCheckpoint | undefined;
    for await (const event of checkpointEvents(reader)) latest = event;
    if (latest === undefined) {
      process.stderr.write(
        "no signed checkpoint yet: the gateway signs one every audit.checkpoints.every_events events or audit.checkpoints.every\n",
      );
      return 1;
    }
    if (options.json) process.stdout.write(`${JSON.stringify(latest, null, 2)}\n`);
    else process.stdout.write(String(latest.data.note));
    return 0;
  } finally {
    await close();
  }
}

export function runAuditKey(options: StoreOptions & { generate?: string }): number {
  if (options.generate !== undefined) {
    if (!isValidKeyName(options.generate))
      throw new LatchError("config_invalid", { detail: '--generate takes a key name without spaces or "+"' });
    process.stdout.write(`${generateSignerKey(options.generate, randomBytes(32))}\n`);
    return 0;
  }
  const signer = loadCheckpointSigner(storeConfig(options), { create: false });
  if (signer === undefined) {
    throw new LatchError("config_invalid", {
      detail:
        "checkpoints are off (audit.checkpoints.enabled: false), or a shared store has no audit.checkpoints.key",
    });
  }
  process.stdout.write(`${signer.verifierKey}\n`);
  return 0;
}

/** `--key` is a verifier key or a file holding one. */
export function readVerifierKey(text: string): NoteVerifier {
  const value = existsSync(text) ? readFileSync(text, "utf8") : text;
  try {
    return parseVerifierKey(value);
  } catch (error) {
    throw new LatchError("config_invalid", {
      detail: `--key: ${(error as Error).message}; print it with "latch audit key"`,
    });
  }
}

/** Every checkpoint of the log checked against `verifier`; plus the notes given with --checkpoint. */
export async function checkStoreCheckpoints(
  reader: AuditReader,
  verifier: NoteVerifier,
  externalNotes: readonly string[],
  pruned?: PrunedPrefix,
): Promise<CheckpointReport> {
  const hashAt = hashReader(reader, pruned);
  const report = await verifyCheckpoints(checkpointEvents(reader), verifier, hashAt);
  const problems = [...report.problems];
  for (const file of externalNotes) {
    const result = await checkCheckpointNote(readFileSync(file, "utf8"), verifier, hashAt);
    if (result.problem !== undefined) problems.push({ seq: 0, problem: `${file}: ${result.problem}` });
  }
  return { ...report, problems };
}

/** Prints the checkpoint part of a verify report; returns whether it passed. */
export function printCheckpointReport(report: CheckpointReport, verifier: NoteVerifier): boolean {
  for (const found of report.problems) {
    const where = found.seq === 0 ? "checkpoint" : `checkpoint at event ${found.seq}`;
    process.stdout.write(`${where} BROKEN: ${found.problem}\n`);
  }
  if (report.problems.length > 0) return false;
  if (report.latest === undefined) {
    process.stdout.write(`checkpoints: none signed by ${verifier.name} in the log\n`);
    return true;
  }
  process.stdout.write(
    `checkpoints OK: ${report.checked} signed by ${verifier.name}, latest pins events 1..${report.latest.seq} (${report.latest.time})\n`,
  );
  return true;
}

async function* checkpointEvents(reader: AuditReader): AsyncIterable<StoredCheckpoint> {
  let after = 0;
  for (;;) {
    const page = await reader.events({ kind: CHECKPOINT_KIND, afterSeq: after, limit: MAX_PAGE_SIZE });
    for (const event of page) yield { seq: event.seq, data: event.data };
    if (page.length < MAX_PAGE_SIZE) return;
    after = page[page.length - 1]!.seq;
  }
}

/** The stored hash of an event; for the pruned prefix only the anchor's is known (signed by its checkpoint). */
function hashReader(
  reader: AuditReader,
  pruned?: PrunedPrefix,
): (seq: number) => Promise<string | undefined> {
  return async (seq) => {
    if (pruned !== undefined && seq === pruned.through) return pruned.anchorHash;
    const [event] = await reader.events({ afterSeq: seq - 1, limit: 1 });
    return event?.seq === seq ? event.hash : undefined;
  };
}

function storeConfig(options: StoreOptions) {
  const overrides = options.dataDir === undefined ? {} : { data_dir: path.resolve(options.dataDir) };
  return loadConfig(options.config, overrides).config;
}
