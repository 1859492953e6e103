import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { examineBatch } from "../../src/protocols/postgres/batch-examiner.js";
import type { FrontendMessage } from "../../src/protocols/postgres/messages.js";
import { PreparedRegistry } from "../../src/protocols/postgres/prepared-registry.js";
import type { StatementClassifier } from "../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../src/sql/postgres/create-classifier.js";
import { type GatewayFixture, startGatewayFixture } from "../e2e/pg-fixture.js";

/**
 * Found in 2026-12 (issue 9 review): PostgreSQL refuses to redefine a prepared statement name (42P05) and keeps
 * the first statement, and protocol-level statements and SQL PREPAREs share one namespace. Latch recorded the
 * redefinition anyway, so a read-only caller parsed `DELETE FROM secrets` under a name (parsing needs no
 * permission), re-parsed `SELECT 1` under the same name, and had the server run the DELETE while Latch
 * authorized (and recorded) a SELECT. The same held for a Close the server skipped because an earlier message
 * of its batch failed. Kept forever.
 */

let classifier: StatementClassifier;
const parse = (name: string, sql: string): FrontendMessage => ({ kind: "Parse", name, sql, paramTypes: [] });
const close = (name: string): FrontendMessage => ({ kind: "Close", target: "S", name });
const query = (sql: string): FrontendMessage => ({ kind: "Query", sql });
const sync: FrontendMessage = { kind: "Sync" };

function forwarded(registry: PreparedRegistry, messages: FrontendMessage[]) {
  const examination = examineBatch(messages, registry, classifier);
  if (!examination.ok) {
    registry.rollback();
    return { ok: false as const, reason: examination.error.message, removed: [] as readonly string[] };
  }
  return { ok: true as const, removed: registry.commit() };
}

describe("prepared statement names (unit)", () => {
  beforeAll(async () => {
    await loadSqlParser();
    classifier = createStatementClassifier();
  });

  it("refuses a Parse that redefines a named statement; the unnamed one may be re-parsed", () => {
    const registry = new PreparedRegistry();
    expect(forwarded(registry, [parse("s", "DELETE FROM secrets"), sync]).ok).toBe(true);
    const again = forwarded(registry, [parse("s", "SELECT 1"), sync]);
    expect(again).toMatchObject({ ok: false, reason: expect.stringContaining('"s" already exists') });
    expect(registry.statement("s")?.sql).toBe("DELETE FROM secrets");
    expect(forwarded(registry, [parse("", "SELECT 1"), sync]).ok).toBe(true);
    expect(forwarded(registry, [parse("", "SELECT 2"), sync]).ok).toBe(true);
  });

  it("refuses a SQL PREPARE of a name a Parse took, and a Parse of a name PREPARE took (one namespace)", () => {
    const registry = new PreparedRegistry();
    expect(forwarded(registry, [parse("p", "DELETE FROM secrets"), sync]).ok).toBe(true);
    expect(forwarded(registry, [query("PREPARE p AS SELECT 1")]).ok).toBe(false);
    expect(forwarded(registry, [query("PREPARE q AS SELECT 1")]).ok).toBe(true);
    expect(forwarded(registry, [parse("q", "SELECT 1"), sync]).ok).toBe(false);
  });

  it("a closed name is reusable only after the server confirmed the Close, never after a failed batch", () => {
    const registry = new PreparedRegistry();
    expect(forwarded(registry, [parse("s", "DELETE FROM secrets"), sync]).ok).toBe(true);
    const closing = forwarded(registry, [close("s"), sync]);
    expect(closing.removed).toEqual(["s"]);
    // Pipelined before the Close's answer: the server may still hold the DELETE under "s".
    expect(forwarded(registry, [parse("s", "SELECT 1"), sync]).ok).toBe(false);
    registry.settleRemovals(closing.removed, true);
    expect(forwarded(registry, [parse("s", "SELECT 1"), sync]).ok).toBe(true);

    expect(forwarded(registry, [parse("t", "DELETE FROM secrets"), sync]).ok).toBe(true);
    const failed = forwarded(registry, [close("t"), sync]);
    registry.settleRemovals(failed.removed, false); // e.g. an earlier message of the batch failed: Close skipped
    expect(forwarded(registry, [parse("t", "SELECT 1"), sync]).ok).toBe(false);
    expect(registry.statement("t")).toBeUndefined();
  });

  it("DEALLOCATE ALL and DEALLOCATE reserve protocol-level names too; a denied batch changes nothing", () => {
    const registry = new PreparedRegistry();
    expect(forwarded(registry, [parse("s", "SELECT 1"), sync]).ok).toBe(true);
    const all = forwarded(registry, [query("DEALLOCATE ALL")]);
    expect(all.removed).toEqual(["s"]);
    expect(forwarded(registry, [parse("s", "SELECT 2"), sync]).ok).toBe(false);
    registry.settleRemovals(all.removed, true);
    expect(forwarded(registry, [parse("s", "SELECT 2"), sync]).ok).toBe(true);
    // A batch refused later in its examination leaves the earlier Close undone.
    const refused = forwarded(registry, [close("s"), parse("s", "SELECT 3"), sync]);
    expect(refused.ok).toBe(false);
    expect(registry.statement("s")?.sql).toBe("SELECT 2");
  });
});

describe("prepared statement names (through the gateway)", () => {
  let fx: GatewayFixture;
  beforeAll(async () => {
    fx = await startGatewayFixture();
  });
  afterAll(async () => fx?.stop());

  /** node-postgres' connection, driven message by message. */
  async function rawConnection(subject: string, groups: string[]) {
    const client = await fx.gw.connect(await fx.gw.token(subject, groups));
    // biome-ignore lint/suspicious/noExplicitAny: the wire-level API of pg's Connection is untyped
    const conn = (client as any).connection as {
      removeAllListeners(): void;
      on(event: string, listener: (message: { code?: string; text?: string }) => void): void;
      once(event: string, listener: () => void): void;
      parse(m: { name: string; text: string; types: [] }): void;
      bind(m: { portal: string; statement: string; values: [] }): void;
      execute(m: { portal: string; rows: number }): void;
      close(m: { type: "S"; name: string }): void;
      query(text: string): void;
      sync(): void;
    };
    conn.removeAllListeners();
    const seen: string[] = [];
    conn.on("errorMessage", (m) => seen.push(`error ${m.code}`));
    conn.on("commandComplete", (m) => seen.push(`complete ${m.text}`));
    const ready = (count = 1) =>
      new Promise<void>((resolve) => {
        let left = count;
        const one = () => {
          left -= 1;
          if (left === 0) resolve();
          else conn.once("readyForQuery", one);
        };
        conn.once("readyForQuery", one);
      });
    return { client: client as pg.Client, conn, seen, ready };
  }

  const secretsLeft = async () =>
    (await fx.direct("SELECT count(*)::int AS n FROM public.secrets")).rows[0].n as number;

  it("a read-only agent cannot run a forbidden DELETE by re-parsing a named statement", async () => {
    const before = await secretsLeft();
    const { conn, seen, ready } = await rawConnection("ci-bot", ["agents"]);
    let r = ready();
    conn.parse({ name: "s", text: "DELETE FROM secrets", types: [] });
    conn.sync();
    await r;
    r = ready();
    conn.parse({ name: "s", text: "SELECT 1", types: [] });
    conn.sync();
    await r;
    r = ready();
    conn.bind({ portal: "", statement: "s", values: [] });
    conn.execute({ portal: "", rows: 0 });
    conn.sync();
    await r;
    expect(seen[0]).toBe("error 42501");
    expect(seen).not.toContain("complete DELETE 1");
    expect(await secretsLeft()).toBe(before);
  });

  it("nor through SQL PREPARE over a protocol-level name, nor by pipelining a Close the server skips", async () => {
    const before = await secretsLeft();
    const { conn, seen, ready } = await rawConnection("etl-job", ["agents", "writers"]);
    let r = ready();
    conn.parse({ name: "p", text: "DELETE FROM secrets", types: [] });
    conn.sync();
    await r;
    r = ready();
    conn.query("PREPARE p AS SELECT 1");
    await r;
    r = ready();
    conn.query("EXECUTE p");
    await r;
    // Close "p" behind a statement that fails, so the server skips the Close; everything pipelined at once.
    r = ready(3);
    conn.parse({ name: "", text: "SELECT 1/0", types: [] });
    conn.bind({ portal: "", statement: "", values: [] });
    conn.execute({ portal: "", rows: 0 });
    conn.close({ type: "S", name: "p" });
    conn.sync();
    conn.parse({ name: "p", text: "SELECT 1", types: [] });
    conn.sync();
    conn.bind({ portal: "", statement: "p", values: [] });
    conn.execute({ portal: "", rows: 0 });
    conn.sync();
    await r;
    expect(seen).not.toContain("complete DELETE 1");
    expect(await secretsLeft()).toBe(before);
  });
});
