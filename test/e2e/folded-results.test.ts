/**
 * Issue 12: a statement costs one chained audit event (its result rides in the session's next operation), and
 * every reader still shows each result: the compiled `latch sessions show`, the admin API, and the raw chain
 * (which verifies with the folded bodies in it).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LATCH_CLI } from "../../bench/start-latch.js";
import { expandEvents } from "../../src/audit/folded-result.js";
import type { AuditEvent } from "../../src/store/store.js";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

const run = promisify(execFile);
let fx: GatewayFixture;

const POLICY = `permit(principal in Group::"readers", action in Action::"sql:read", resource in Connection::"app");`;

beforeAll(async () => {
  fx = await startGatewayFixture({ policy: POLICY });
});
afterAll(async () => fx?.stop());

describe("one chained event per statement, two logical ones", () => {
  it("folds each result into the next statement's operation; sessions show and the API list every result", async () => {
    const token = await fx.gw.token("folding-reader", ["readers"]);
    const statements = [1, 2, 3].flatMap((id) => ["-c", `SELECT name FROM public.items WHERE id = ${id}`]);
    await run("psql", [fx.gw.conninfo(), "-X", "-v", "ON_ERROR_STOP=1", ...statements], {
      env: { ...process.env, PGPASSWORD: token, PGCONNECT_TIMEOUT: "10" },
    });
    await fx.gw.gateway.flushAudit();

    const admin = await fx.gw.token("auditor", ["latch-admins"]);
    const starts = await fx.gw.gateway.audit.events({ kind: "session_start", subject: "folding-reader" });
    const sessionId = starts.at(-1)!.sessionId!;

    // The raw chain: a result rides in the next operation when that came within 10 ms (a loaded machine's
    // psql may take longer: then it stands alone), the last one alone before session_end. Expanded, it is
    // exactly what the API shows.
    const raw = await fx.gw.gateway.audit.events({ sessionId, limit: 1000 });
    expect(raw.filter((event) => event.kind === "operation")).toHaveLength(3);
    expect(raw.length).toBeLessThanOrEqual(9);
    expect(raw.at(-2)?.kind).toBe("operation_result");
    expect(await fx.gw.gateway.audit.verifyChain()).toMatchObject({ ok: true });

    // The API reads logically: each result right after its operation, the pair sharing the carrier's seq.
    const response = await fetch(`${fx.gw.adminUrl}/api/sessions/${sessionId}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const { events } = (await response.json()) as { events: AuditEvent[] };
    expect(events.map((event) => event.kind)).toEqual([
      "session_start",
      "upstream_connected",
      "operation",
      "operation_result",
      "operation",
      "operation_result",
      "operation",
      "operation_result",
      "session_end",
    ]);
    const operationIds = events.filter((e) => e.kind === "operation").map((e) => e.data.operationId);
    const resultIds = events.filter((e) => e.kind === "operation_result").map((e) => e.data.operationId);
    expect(resultIds).toEqual(operationIds);
    expect(events.every((event) => event.data.priorResult === undefined)).toBe(true);
    expect(events.map((event) => [event.seq, event.kind])).toEqual(
      expandEvents(raw).map((event) => [event.seq, event.kind]),
    );
    // A folded pair shares the carrier's seq; a standalone result has its own.
    const carriers = raw.filter((event) => event.data.priorResult !== undefined).map((event) => event.seq);
    expect(new Set(events.map((event) => event.seq)).size).toBe(events.length - carriers.length);
    expect(events.filter((e) => e.kind === "operation_result").map((e) => e.data.rows)).toEqual([1, 1, 1]);

    const search = await fetch(`${fx.gw.adminUrl}/api/audit?kind=operation_result&session=${sessionId}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const found = ((await search.json()) as { events: AuditEvent[] }).events;
    expect(found.map((event) => [event.kind, event.data.operationId])).toEqual(
      operationIds.map((id) => ["operation_result", id]),
    );

    // The compiled CLI's timeline: three statements, three results of one row each.
    const shown = await run(
      process.execPath,
      [LATCH_CLI, "sessions", "show", sessionId, "--server", fx.gw.adminUrl, "--token", admin],
      { env: { ...process.env, NO_COLOR: "1" } },
    );
    const lines = shown.stdout.split("\n");
    expect(lines.filter((line) => / operation_result /.test(line) && /1 rows in/.test(line))).toHaveLength(3);
    expect(lines.filter((line) => / operation /.test(line) && /ALLOW SELECT name/.test(line))).toHaveLength(
      3,
    );
  });
});
