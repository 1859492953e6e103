import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { type Examination, examineBatch } from "../../../src/protocols/postgres/batch-examiner.js";
import { decodeFrontend } from "../../../src/protocols/postgres/decode-frontend.js";
import { encodeFrontend } from "../../../src/protocols/postgres/encode-frontend.js";
import type { FrontendMessage } from "../../../src/protocols/postgres/messages.js";
import { PreparedRegistry } from "../../../src/protocols/postgres/prepared-registry.js";
import type { StatementClassifier } from "../../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../../src/sql/postgres/create-classifier.js";

let classifier: StatementClassifier;

beforeAll(async () => {
  await loadSqlParser();
  classifier = createStatementClassifier();
});

/** Messages as the session sees them: encoded to wire bytes and decoded by the real frontend decoder. */
function wire(...messages: FrontendMessage[]): FrontendMessage[] {
  return messages.map((message) => {
    const raw = encodeFrontend(message);
    return decodeFrontend({ type: raw[0]!, raw, body: raw.subarray(5) });
  });
}

const query = (sql: string): FrontendMessage => ({ kind: "Query", sql });
const parse = (name: string, sql: string): FrontendMessage => ({ kind: "Parse", name, sql, paramTypes: [] });
const bind = (
  statement: string,
  params: (string | Buffer | null)[] = [],
  paramFormats: number[] = [],
  portal = "",
): FrontendMessage => ({
  kind: "Bind",
  portal,
  statement,
  paramFormats,
  params: params.map((p) => (typeof p === "string" ? Buffer.from(p) : p)),
  resultFormats: [],
});
const execute = (portal = ""): FrontendMessage => ({ kind: "Execute", portal, maxRows: 0 });
const close = (target: "S" | "P", name: string): FrontendMessage => ({ kind: "Close", target, name });
const describeStatement = (name: string): FrontendMessage => ({ kind: "Describe", target: "S", name });
const sync: FrontendMessage = { kind: "Sync" };

function examine(registry: PreparedRegistry, ...messages: FrontendMessage[]): Examination {
  return examineBatch(wire(...messages), registry, classifier);
}

function allowed(examination: Examination): Extract<Examination, { ok: true }> {
  if (!examination.ok) throw new Error(`expected the batch to pass, got ${examination.error.message}`);
  return examination;
}

function refused(examination: Examination): Extract<Examination, { ok: false }>["error"] {
  if (examination.ok) throw new Error("expected the batch to be refused");
  return examination.error;
}

function sha256(format: number, value: Buffer): string {
  return createHash("sha256").update(Buffer.of(format)).update(value).digest("hex");
}

describe("examineBatch: simple queries", () => {
  it("turns a Query into its classified steps", () => {
    const result = allowed(examine(new PreparedRegistry(), query("SELECT * FROM users")));
    expect(result.steps).toEqual([
      {
        text: "SELECT * FROM users",
        action: "sql:select",
        accesses: [{ action: "sql:select", resource: { type: "Table", name: "public.users" } }],
        facts: { readOnly: true, hasWhere: true, tableCount: 1, command: "" },
        recorded: { tablesRead: ["public.users"], tablesWritten: [] },
      },
    ]);
    expect(result.parameters).toEqual([]);
    expect(result.parameterDigests).toEqual([]);
  });

  it("reports every statement of a multi-statement Query, in order", () => {
    const result = allowed(examine(new PreparedRegistry(), query("SELECT 1; DELETE FROM items")));
    expect(result.steps.map((s) => [s.text, s.action])).toEqual([
      ["SELECT 1", "sql:select"],
      ["DELETE FROM items", "sql:delete"],
    ]);
  });

  it("refuses unparseable SQL with statement_unparseable", () => {
    const error = refused(examine(new PreparedRegistry(), query("SELEC * FROM users")));
    expect(error.code).toBe("statement_unparseable");
    expect(error.message).toContain("syntax error");
  });

  it("refuses SQL the classifier does not support with statement_unsupported", () => {
    const error = refused(examine(new PreparedRegistry(), query(`SELECT ${"1+".repeat(1000)}1`)));
    expect(error.code).toBe("statement_unsupported");
    expect(error.message).toContain("nested too deeply");
  });

  it("lets Sync, Flush and Describe through without steps", () => {
    const registry = new PreparedRegistry();
    const result = allowed(
      examine(registry, parse("s", "SELECT 1"), describeStatement("s"), { kind: "Flush" }, sync),
    );
    expect(result.steps).toEqual([]);
    expect(registry.statement("s")?.sql).toBe("SELECT 1");
  });
});

describe("examineBatch: extended protocol", () => {
  it("authorizes an Execute as the statement its portal was bound to, with its parameters", () => {
    const registry = new PreparedRegistry();
    const result = allowed(
      examine(
        registry,
        parse("", "DELETE FROM items WHERE id = $1"),
        bind("", ["42", null]),
        execute(),
        sync,
      ),
    );
    expect(result.steps.map((s) => [s.text, s.action])).toEqual([
      ["DELETE FROM items WHERE id = $1", "sql:delete"],
    ]);
    expect(result.parameters).toEqual([["42", null]]);
    expect(result.parameterDigests).toEqual([[sha256(0, Buffer.from("42")), null]]);
  });

  it("reports nothing to authorize for a batch that only parses", () => {
    const result = allowed(examine(new PreparedRegistry(), parse("s1", "DELETE FROM items"), sync));
    expect(result.steps).toEqual([]);
  });

  it("uses statements and portals defined by earlier batches", () => {
    const registry = new PreparedRegistry();
    allowed(examine(registry, parse("upd", "UPDATE items SET n = $1 WHERE id = 1"), sync));
    registry.commit();
    allowed(examine(registry, bind("upd", ["5"], [], "p1"), sync));
    registry.commit();
    const result = allowed(examine(registry, execute("p1"), execute("p1"), sync));
    expect(result.steps.map((s) => s.action)).toEqual(["sql:update", "sql:update"]);
    expect(result.parameters).toEqual([["5"], ["5"]]);
  });

  it("re-parsing the unnamed statement replaces it", () => {
    const registry = new PreparedRegistry();
    const result = allowed(
      examine(registry, parse("", "SELECT 1"), parse("", "DROP TABLE items"), bind(""), execute(), sync),
    );
    expect(result.steps.map((s) => s.action)).toEqual(["sql:ddl"]);
  });

  it("refuses a Bind to a statement this session never prepared", () => {
    const error = refused(examine(new PreparedRegistry(), bind("ghost"), execute(), sync));
    expect(error.code).toBe("statement_denied");
    expect(error.message).toContain(
      'prepared statement "ghost" was not prepared through this gateway session',
    );
  });

  it("refuses an Execute of a portal this session never bound", () => {
    const error = refused(examine(new PreparedRegistry(), execute("nowhere"), sync));
    expect(error.code).toBe("statement_denied");
    expect(error.message).toContain('portal "nowhere" was not prepared');
  });

  it("refuses a Bind to a statement closed earlier in the batch", () => {
    const registry = new PreparedRegistry();
    const error = refused(
      examine(registry, parse("s", "SELECT 1"), close("S", "s"), bind("s"), execute(), sync),
    );
    expect(error.code).toBe("statement_denied");
  });

  it("refuses an Execute of a closed portal", () => {
    const registry = new PreparedRegistry();
    const error = refused(
      examine(registry, parse("s", "SELECT 1"), bind("s", [], [], "p"), close("P", "p"), execute("p"), sync),
    );
    expect(error.message).toContain('portal "p"');
  });

  it("cuts an unknown name short in the error", () => {
    const error = refused(examine(new PreparedRegistry(), execute("n".repeat(200)), sync));
    expect(error.message).toContain(`"${"n".repeat(64)}"`);
    expect(error.message).not.toContain("n".repeat(65));
  });

  it("refuses an unparseable Parse", () => {
    const registry = new PreparedRegistry();
    expect(refused(examine(registry, parse("s", "SELEC 1"), sync)).code).toBe("statement_unparseable");
  });
});

describe("examineBatch: parameter previews and digests", () => {
  it("renders binary parameters as hex, and a single format code applies to every parameter", () => {
    const registry = new PreparedRegistry();
    const result = allowed(
      examine(
        registry,
        parse("", "SELECT $1::bytea, $2::bytea"),
        bind("", [Buffer.of(0xde, 0xad), Buffer.of(0x01)], [1]),
        execute(),
        sync,
      ),
    );
    expect(result.parameters).toEqual([["\\xdead", "\\x01"]]);
    expect(result.parameterDigests).toEqual([[sha256(1, Buffer.of(0xde, 0xad)), sha256(1, Buffer.of(0x01))]]);
  });

  it("takes each parameter's own format code when there is one per parameter", () => {
    const registry = new PreparedRegistry();
    const result = allowed(
      examine(registry, parse("", "SELECT $1, $2"), bind("", ["ab", "ab"], [0, 1]), execute(), sync),
    );
    expect(result.parameters).toEqual([["ab", "\\x6162"]]);
    const [text, binary] = result.parameterDigests[0]!;
    expect(text).not.toBe(binary); // the same bytes in two formats are two different values
  });

  it("cuts previews at 256 bytes but digests the whole value", () => {
    const registry = new PreparedRegistry();
    const prefix = "a".repeat(256);
    const result = allowed(
      examine(
        registry,
        parse("s", "SELECT $1"),
        bind("s", [`${prefix}first`], [], "p1"),
        bind("s", [`${prefix}second`], [], "p2"),
        execute("p1"),
        execute("p2"),
        sync,
      ),
    );
    expect(result.parameters).toEqual([[`${prefix}…`], [`${prefix}…`]]);
    expect(result.parameterDigests[0]![0]).toBe(sha256(0, Buffer.from(`${prefix}first`)));
    expect(result.parameterDigests[0]![0]).not.toBe(result.parameterDigests[1]![0]);
  });

  // Digests are computed when an approval first reads them, from the bytes as they were bound.
  it("digests a portal's own values when read later, after the unnamed portal was bound anew", () => {
    const registry = new PreparedRegistry();
    const first = allowed(examine(registry, parse("s", "SELECT $1"), bind("s", ["1"]), execute(), sync));
    const second = allowed(examine(registry, bind("s", ["2"]), execute(), execute(), sync));
    expect(second.parameterDigests).toEqual([[sha256(0, Buffer.from("2"))], [sha256(0, Buffer.from("2"))]]);
    expect(first.parameterDigests).toEqual([[sha256(0, Buffer.from("1"))]]);
    expect(first.parameterDigests).toBe(first.parameterDigests); // computed once
  });

  it("digests large values at Bind (a portal keeps at most 4 KB of values for later) and the same", () => {
    const registry = new PreparedRegistry();
    const big = Buffer.alloc(5000, 0x61);
    const result = allowed(
      examine(registry, parse("s", "SELECT $1, $2"), bind("s", [big, null], [1]), execute(), sync),
    );
    expect(result.parameterDigests).toEqual([[sha256(1, big), null]]);
  });

  it("keeps a value of exactly 256 bytes whole", () => {
    const value = "b".repeat(256);
    const result = allowed(
      examine(new PreparedRegistry(), parse("", "SELECT $1"), bind("", [value]), execute(), sync),
    );
    expect(result.parameters).toEqual([[value]]);
  });
});

describe("examineBatch: parameter previews on a masked connection", () => {
  /** Stands in for the connection's detectors: every run of 16 digits is a card. */
  const maskCards = (text: string) => text.replace(/\d{16}/g, "[card]");
  const CARD = "4111111111111111";

  it("passes each text preview through the mask, and digests the clear value", () => {
    const messages = wire(
      parse("", "INSERT INTO t VALUES ($1, $2)"),
      bind("", [CARD, null]),
      execute(),
      sync,
    );
    const masked = allowed(examineBatch(messages, new PreparedRegistry(), classifier, maskCards));
    const clear = allowed(examineBatch(messages, new PreparedRegistry(), classifier));
    expect(masked.parameters).toEqual([["[card]", null]]);
    expect(clear.parameters).toEqual([[CARD, null]]);
    expect(masked.parameterDigests).toEqual(clear.parameterDigests);
    expect(masked.parameterDigests[0]![0]).toBe(sha256(0, Buffer.from(CARD)));
  });

  it("masks a value that straddles the 256-byte cut before cutting it (no digits of it are kept)", () => {
    const value = `${"a".repeat(248)}${CARD}tail`;
    const result = allowed(
      examineBatch(
        wire(parse("", "SELECT $1"), bind("", [value]), execute(), sync),
        new PreparedRegistry(),
        classifier,
        maskCards,
      ),
    );
    expect(result.parameters).toEqual([[`${"a".repeat(248)}[card]ta…`]]);
    expect(result.parameters[0]![0]).not.toMatch(/4111/);
  });

  it("records only the size of a binary-format parameter (the detectors cannot read it)", () => {
    const card = Buffer.alloc(8);
    card.writeBigInt64BE(BigInt(CARD));
    const messages = wire(parse("", "SELECT $1::int8"), bind("", [card], [1]), execute(), sync);
    const masked = allowed(examineBatch(messages, new PreparedRegistry(), classifier, maskCards));
    expect(masked.parameters).toEqual([["[binary value, 8 bytes]"]]);
    expect(masked.parameterDigests).toEqual([[sha256(1, card)]]);
  });
});

describe("examineBatch: SQL-level PREPARE / EXECUTE / DEALLOCATE", () => {
  it("authorizes EXECUTE as the statement it runs, under the EXECUTE's own text", () => {
    const registry = new PreparedRegistry();
    allowed(examine(registry, query("PREPARE del(int) AS DELETE FROM items WHERE id = $1")));
    registry.commit();
    const result = allowed(examine(registry, query("EXECUTE del(3)")));
    expect(result.steps.map((s) => [s.text, s.action])).toEqual([
      ["EXECUTE del(3)", "sql:execute"],
      ["EXECUTE del(3)", "sql:delete"],
    ]);
    expect(result.steps[1]?.accesses).toEqual([
      { action: "sql:delete", resource: { type: "Table", name: "public.items" } },
    ]);
  });

  it("substitutes a statement prepared earlier in the same Query", () => {
    const result = allowed(
      examine(new PreparedRegistry(), query("PREPARE p AS DELETE FROM payments; EXECUTE p")),
    );
    expect(result.steps.map((s) => s.action)).toEqual(["sql:prepare", "sql:execute", "sql:delete"]);
    expect(result.steps.at(-1)?.text).toBe("EXECUTE p");
  });

  it("refuses EXECUTE of a name this session never prepared", () => {
    const error = refused(examine(new PreparedRegistry(), query("EXECUTE ghost")));
    expect(error.code).toBe("statement_denied");
    expect(error.message).toContain('SQL prepared statement "ghost" was not prepared');
  });

  it("refuses EXECUTE after DEALLOCATE, and after DEALLOCATE ALL", () => {
    const registry = new PreparedRegistry();
    allowed(examine(registry, query("PREPARE a AS SELECT 1; PREPARE b AS SELECT 2")));
    registry.commit();
    expect(refused(examine(registry, query("DEALLOCATE a; EXECUTE a"))).code).toBe("statement_denied");
    registry.rollback();
    allowed(examine(registry, query("EXECUTE b")));
    expect(refused(examine(registry, query("DEALLOCATE ALL; EXECUTE b"))).code).toBe("statement_denied");
  });

  it("substitutes an EXECUTE that arrives through the extended protocol", () => {
    const registry = new PreparedRegistry();
    allowed(examine(registry, query("PREPARE wipe AS DELETE FROM items")));
    registry.commit();
    const result = allowed(examine(registry, parse("", "EXECUTE wipe"), bind(""), execute(), sync));
    expect(result.steps.map((s) => [s.text, s.action])).toEqual([
      ["EXECUTE wipe", "sql:execute"],
      ["EXECUTE wipe", "sql:delete"],
    ]);
  });

  it("the PREPARE itself is authorized with the accesses of what it prepares", () => {
    const result = allowed(examine(new PreparedRegistry(), query("PREPARE p AS DELETE FROM items")));
    expect(result.steps[0]?.accesses.map((a) => a.action)).toEqual(["sql:prepare", "sql:delete"]);
  });
});
