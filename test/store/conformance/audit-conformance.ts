import { describe, expect } from "vitest";
import { canonicalJson } from "../../../src/audit/canonical-json.js";
import { computeEventHash, GENESIS_HASH } from "../../../src/audit/event-hash.js";
import { foldResult } from "../../../src/audit/folded-result.js";
import { logicalEvents } from "../../../src/store/logical-events.js";
import type { AuditEvent, AuditEventInput, AuditFilter } from "../../../src/store/store.js";
import type { Stores } from "../../../src/store/stores.js";
import { operation, sessionEnd, sessionStart } from "../store-fixtures.js";
import { conformanceCases, type StoreImplementation } from "./conformance-harness.js";

/** Appends each event with its own call, as the gateway's writer does group by group, then waits until readable. */
async function record(stores: Stores, ...groups: AuditEventInput[][]): Promise<void> {
  for (const group of groups) await stores.audit.append(group);
  await stores.audit.flush();
}

/** Ten events across two sessions. */
const SAMPLE_LOG: AuditEventInput[] = [
  sessionStart("s1"),
  operation("s1", "SELECT * FROM users"),
  operation("s1", "DELETE FROM users", "deny"),
  sessionStart("s2", "agent-2"),
  operation("s2", "select name from users"),
  operation("s1", "UPDATE users SET name = 'x'", "approval"),
  sessionEnd("s1"),
  operation("s2", "DROP TABLE users", "deny"),
  { kind: "operation_result", sessionId: "s2", data: { rows: 0, durationMs: 1 } },
  { kind: "gateway_stop", sessionId: null, data: {} },
];

const writeSampleLog = (stores: Stores) => record(stores, ...SAMPLE_LOG.map((event) => [event]));

/** The hash an auditor recomputes from what the reader returns: the chain is checkable outside the store. */
function recomputed(event: AuditEvent): string {
  return computeEventHash({
    prevHash: event.prevHash,
    seq: event.seq,
    ts: event.ts,
    kind: event.kind,
    sessionId: event.sessionId,
    dataJson: canonicalJson(event.data),
  });
}

export function describeAuditConformance(implementation: StoreImplementation): void {
  const test = conformanceCases(implementation);

  describe("audit: append order and the hash chain", () => {
    test("returns chained events and reads them back unchanged", async ({ stores }) => {
      await record(stores, [sessionStart("s1")], [operation("s1", "SELECT 1")]);
      const [first, second] = await stores.auditReader.events();
      expect(first).toMatchObject({ seq: 1, prevHash: GENESIS_HASH, kind: "session_start", sessionId: "s1" });
      expect(first!.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(second).toMatchObject({ seq: 2, prevHash: first!.hash });
      expect(Date.parse(second!.ts)).not.toBeNaN();
      expect(first!.data).toEqual(JSON.parse(JSON.stringify(sessionStart("s1").data)));
      expect(second!.data).toEqual(JSON.parse(JSON.stringify(operation("s1", "SELECT 1").data)));
      expect(await stores.auditReader.verifyChain()).toMatchObject({
        ok: true,
        events: 2,
        head: { seq: 2, hash: second!.hash },
      });
    });

    test("hashes the canonical JSON of the body: anyone can recompute every hash from what is read", async ({
      stores,
    }) => {
      await record(stores, [
        { kind: "gateway_start", sessionId: null, data: { z: 1, a: { y: [2, 1], b: "t" } } },
        sessionStart("s1"),
      ]);
      const events = await stores.auditReader.events();
      expect(events).toHaveLength(2);
      for (const event of events) expect(recomputed(event)).toBe(event.hash);
      expect(canonicalJson(events[0]!.data)).toBe('{"a":{"b":"t","y":[2,1]},"z":1}');
    });

    test("keeps the order of appends across calls and inside one call", async ({ stores }) => {
      await record(
        stores,
        [sessionStart("s1"), operation("s1", "SELECT 1"), sessionEnd("s1")],
        [sessionStart("s2")],
        [operation("s2", "SELECT 2"), operation("s2", "SELECT 3")],
      );
      const events = await stores.auditReader.events();
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(events.map((e) => `${e.kind}:${e.sessionId}`)).toEqual([
        "session_start:s1",
        "operation:s1",
        "session_end:s1",
        "session_start:s2",
        "operation:s2",
        "operation:s2",
      ]);
      for (let i = 1; i < events.length; i++) expect(events[i]!.prevHash).toBe(events[i - 1]!.hash);
    });

    test("a group is all or nothing: a body that cannot be represented rejects it and the chain does not move", async ({
      stores,
    }) => {
      await record(stores, [sessionStart("s1"), operation("s1", "SELECT 1"), sessionEnd("s1")]);
      await expect(
        stores.audit.append([
          operation("s1", "SELECT 2"),
          { kind: "operation", sessionId: "s1", data: { bad: 1n } },
        ]),
      ).rejects.toThrow();
      await expect(
        stores.audit.append([{ kind: "gateway_start", sessionId: null, data: { n: Number.NaN } }]),
      ).rejects.toThrow();
      await stores.audit.flush();
      expect((await stores.auditReader.events()).map((e) => e.seq)).toEqual([1, 2, 3]);
      expect((await stores.auditReader.getSession("s1"))?.operations).toBe(1);
      await record(stores, [operation("s1", "SELECT 3")]);
      const events = await stores.auditReader.events();
      expect(events.at(-1)?.seq).toBe(4);
      expect((await stores.auditReader.verifyChain()).ok).toBe(true);
    });

    test("continues the chain after a restart", async (state) => {
      expect(state.stores.audit.head()).toEqual({ seq: 0, hash: GENESIS_HASH });
      await writeSampleLog(state.stores);
      const [, , , , , , , , , last] = await state.stores.auditReader.events();
      expect(state.stores.audit.head()).toEqual({ seq: 10, hash: last!.hash });
      const stores = await state.reopen();
      expect(stores.audit.head()).toEqual({ seq: 10, hash: last!.hash });
      await record(stores, [operation("s2", "SELECT 2")]);
      const [tenth, next] = await stores.auditReader.events({ afterSeq: 9 });
      expect(next!.seq).toBe(11);
      expect(next!.prevHash).toBe(tenth!.hash);
      expect(await stores.auditReader.verifyChain()).toMatchObject({ ok: true, events: 11 });
    });

    test("verifies while the writer keeps appending", async ({ stores }) => {
      await record(stores, [sessionStart("s1")]);
      expect(await stores.auditReader.verifyChain()).toMatchObject({ ok: true, events: 1 });
      const appending = (async () => {
        for (let i = 0; i < 50; i++) await stores.audit.append([operation("s1", `SELECT ${i}`)]);
      })();
      const during = await stores.auditReader.verifyChain();
      expect(during.ok).toBe(true);
      await appending;
      await stores.audit.flush();
      expect(await stores.auditReader.verifyChain()).toMatchObject({ ok: true, events: 51 });
      expect((await stores.auditReader.getSession("s1"))?.operations).toBe(50);
    });

    test("reads its own writes: an event whose append resolved is visible without a flush", async ({
      stores,
    }) => {
      for (let i = 1; i <= 3; i++) {
        await stores.audit.append([sessionStart(`s${i}`)]);
        expect((await stores.auditReader.getSession(`s${i}`))?.id).toBe(`s${i}`);
        expect((await stores.auditReader.events({ afterSeq: i - 1 })).map((e) => e.seq)).toEqual([i]);
      }
      expect((await stores.auditReader.listSessions({ active: true })).map((x) => x.id)).toEqual([
        "s3",
        "s2",
        "s1",
      ]);
      await stores.audit.append([operation("s1", "SELECT 1")]);
      expect(await stores.auditReader.verifyChain()).toMatchObject({ ok: true, events: 4 });
    });

    test("check() resolves on a healthy store", async ({ stores }) => {
      await expect(stores.check()).resolves.toBeUndefined();
      await expect(stores.audit.check()).resolves.toBeUndefined();
    });
  });

  describe("audit: the sessions index", () => {
    test("is maintained from session_start, operation and session_end events", async ({ stores }) => {
      await writeSampleLog(stores);
      const s1 = (await stores.auditReader.getSession("s1"))!;
      expect(s1).toMatchObject({
        id: "s1",
        protocol: "postgres",
        connection: "analytics",
        subject: "agent-1",
        groups: ["agents"],
        clientAddress: "127.0.0.1:50000",
        operations: 3,
        denied: 1,
        endReason: "client_terminated",
      });
      expect(s1.endedAt).not.toBeNull();
      expect(await stores.auditReader.getSession("s2")).toMatchObject({
        operations: 2,
        denied: 1,
        endedAt: null,
        endReason: null,
      });
      expect(await stores.auditReader.getSession("nope")).toBeUndefined();
    });

    test("lists sessions newest first with filters", async ({ stores }) => {
      await writeSampleLog(stores);
      const ids = async (filter?: Parameters<Stores["auditReader"]["listSessions"]>[0]) =>
        (await stores.auditReader.listSessions(filter)).map((x) => x.id);
      expect(await ids()).toEqual(["s2", "s1"]);
      expect(await ids({ active: true })).toEqual(["s2"]);
      expect(await ids({ active: false })).toEqual(["s1"]);
      expect(await ids({ subject: "agent-1" })).toEqual(["s1"]);
      expect(await ids({ connection: "other" })).toEqual([]);
      expect(await ids({ limit: 1 })).toEqual(["s2"]);
    });
  });

  describe("audit: search", () => {
    test("filters by session, kind, subject, decision and statement text", async ({ stores }) => {
      await writeSampleLog(stores);
      const seqs = async (filter: AuditFilter) => (await stores.auditReader.events(filter)).map((e) => e.seq);
      expect(await seqs({ sessionId: "s2" })).toEqual([4, 5, 8, 9]);
      expect(await seqs({ kind: "session_start" })).toEqual([1, 4]);
      expect(await seqs({ subject: "agent-1" })).toEqual([1, 2, 3, 6, 7]);
      expect(await seqs({ decision: "deny" })).toEqual([3, 8]);
      expect(await seqs({ decision: "approval" })).toEqual([6]);
      expect(await seqs({ text: "from USERS" })).toEqual([2, 3, 5]);
      expect(await seqs({ text: "users", decision: "deny", subject: "agent-2" })).toEqual([8]);
      expect(await seqs({ text: "no such statement" })).toEqual([]);
    });

    test("a result folded into its session's next operation: searched and read as its own event, chained once", async ({
      stores,
    }) => {
      const result = { commandTags: ["SELECT 1"], durationMs: 1, operationId: "op-first", rows: 1 };
      const carrier = operation("s1", "SELECT 2 FROM users");
      await record(
        stores,
        [sessionStart("s1")],
        [operation("s1", "SELECT 1 FROM users")],
        [{ ...carrier, data: foldResult(carrier.data, result) }],
        [{ kind: "operation_result", sessionId: "s1", data: { ...result, operationId: "op-second" } }],
      );
      const reader = stores.auditReader;
      // The chain holds four events, every one verifiable as read; the carrier keeps its result inside.
      expect(await reader.verifyChain()).toMatchObject({ ok: true, events: 4 });
      for (const event of await reader.events()) expect(recomputed(event)).toBe(event.hash);
      expect((await reader.events({ kind: "operation_result" })).map((e) => [e.seq, e.kind])).toEqual([
        [3, "operation"],
        [4, "operation_result"],
      ]);
      // Read logically: the result first, with the carrier's seq, then the operation without it.
      const results = await logicalEvents(reader, { kind: "operation_result" });
      expect(results.map((e) => [e.seq, e.data.operationId])).toEqual([
        [3, "op-first"],
        [4, "op-second"],
      ]);
      expect(results[0]!.data).toEqual(result);
      const timeline = await logicalEvents(reader, { sessionId: "s1" });
      expect(timeline.map((e) => [e.seq, e.kind])).toEqual([
        [1, "session_start"],
        [2, "operation"],
        [3, "operation_result"],
        [3, "operation"],
        [4, "operation_result"],
      ]);
      expect(timeline[3]!.data).toEqual(JSON.parse(JSON.stringify(carrier.data)));
      expect((await logicalEvents(reader, { kind: "operation" })).map((e) => e.seq)).toEqual([2, 3]);
      expect((await logicalEvents(reader, { text: "select 2" })).map((e) => [e.seq, e.kind])).toEqual([
        [3, "operation"],
      ]);
      expect((await reader.getSession("s1"))?.operations).toBe(2);
    });

    test("pages with afterSeq and limit (default 100, at most 1000)", async ({ stores }) => {
      await stores.audit.append([sessionStart("s1")]);
      for (let i = 0; i < 11; i++) {
        await stores.audit.append(
          Array.from({ length: 100 }, (_, k) => operation("s1", `SELECT ${i * 100 + k}`)),
        );
      }
      await stores.audit.flush();
      const reader = stores.auditReader;
      expect(await reader.events()).toHaveLength(100);
      expect(await reader.events({ limit: 5000 })).toHaveLength(1000);
      expect((await reader.events({ afterSeq: 1000, limit: 5 })).map((e) => e.seq)).toEqual([
        1001, 1002, 1003, 1004, 1005,
      ]);
      expect((await reader.events({ afterSeq: 1099 })).map((e) => e.seq)).toEqual([1100, 1101]);
      expect((await reader.getSession("s1"))?.operations).toBe(1100);
    });
  });
}
