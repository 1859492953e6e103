import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { loadCheckpointSigner } from "../../src/audit/checkpoint-key.js";
import { runAuditVerify } from "../../src/cli/commands/audit.js";
import { configSchema } from "../../src/config/schema.js";
import {
  type AuditReceiver,
  deliveredInOrder,
  startOtlpLogsReceiver,
  startSyslogReceiver,
} from "../support/audit-receivers.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/** Waits (bounded) for a condition the system must reach; no timing is asserted. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const receivers: AuditReceiver[] = [];
afterAll(async () => {
  for (const receiver of receivers) await receiver.close().catch(() => undefined);
});

describe("audit export to an OTLP/HTTP receiver and a syslog receiver", () => {
  it("delivers every event in order at least once through receiver outages and a gateway restart", async () => {
    const otlp = await startOtlpLogsReceiver();
    const syslog = await startSyslogReceiver();
    receivers.push(otlp, syslog);
    const overrides = {
      connections: {
        app: { type: "postgres", upstream: "postgres://postgres@127.0.0.1:5432/postgres" },
      },
      audit: {
        checkpoints: { every_events: 25 },
        export_poll: "50ms",
        export: [
          { type: "otlp", name: "collector", url: `http://127.0.0.1:${otlp.port}/v1/logs` },
          { type: "syslog", name: "siem", address: `127.0.0.1:${syslog.port}` },
        ],
      },
    };
    let gw: TestGateway = await startTestGateway(undefined, { overrides });
    const dataDir = gw.dataDir;
    const queries = async (count: number) => {
      const client = await gw.connect(await gw.token("agent-1", ["agents"]));
      for (let i = 0; i < count; i++) await client.query(`SELECT ${i}`);
      await client.end();
      await gw.gateway.flushAudit();
    };
    const head = async () => (await gw.gateway.audit.verifyChain()).head.seq;

    await queries(20);
    await otlp.kill();
    await syslog.kill();
    // The log keeps taking writes while both sinks are down.
    await queries(30);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/latch_audit_export_lag_events\{sink="collector"\} [1-9]/);
    await otlp.restart();
    await syslog.restart();
    await queries(20);
    let last = await head();
    await eventually("both receivers hold every event", () =>
      [otlp, syslog].every((receiver) => deliveredInOrder(receiver.seqs, last)),
    );
    await eventually("lag back to 0", async () => {
      const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      return ["collector", "siem"].every((sink) =>
        text.includes(`latch_audit_export_lag_events{sink="${sink}"} 0\n`),
      );
    });
    const after = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    expect(after).toMatch(/latch_audit_export_failures_total\{sink="collector"\} [1-9]/);
    expect(after).toMatch(/latch_audit_export_failures_total\{sink="siem"\} [1-9]/);
    expect(after).toMatch(/latch_audit_exported_events_total\{sink="siem"\} [1-9]/);

    // Restart: each sink resumes from its cursor in the store, not from the start.
    await gw.gateway.stop();
    const db = new Database(`${dataDir}/latch.db`, { readonly: true });
    const cursors = new Map(
      (db.prepare("SELECT sink, seq FROM audit_export_cursors").all() as { sink: string; seq: number }[]).map(
        (row) => [row.sink, row.seq],
      ),
    );
    db.close();
    expect(cursors.get("collector")).toBeGreaterThanOrEqual(last);
    const received = { collector: otlp.seqs.length, siem: syslog.seqs.length };
    gw = await startTestGateway(undefined, { overrides, dataDir });
    await queries(5);
    last = await head();
    await eventually("both receivers hold the events of the second run", () =>
      [otlp, syslog].every((receiver) => deliveredInOrder(receiver.seqs, last)),
    );
    const resumedAt = (sink: "collector" | "siem", receiver: AuditReceiver) =>
      Math.min(...receiver.seqs.slice(received[sink]));
    expect(resumedAt("collector", otlp)).toBe(cursors.get("collector")! + 1);
    expect(resumedAt("siem", syslog)).toBe(cursors.get("siem")! + 1);

    // What a sink receives can be checked against the chain: the syslog message carries the exported record.
    expect(syslog.messages[0]).toMatch(
      /^<110>1 \S+ \S+ latch \d+ gateway_start \[latch@32473 seq="1" hash="[0-9a-f]{64}"\] \uFEFF\{/u,
    );
    // An operation's message names its session's subject (from session_start), in the SD and in the record.
    const operationMessage = syslog.messages.find((message) => / operation \[/.test(message));
    expect(operationMessage).toMatch(/ session="[^"]+" subject="[^"]+"\] \uFEFF\{/u);
    expect(operationMessage).toMatch(/"session":\{"clientAddress":/);
    await gw.gateway.stop();

    // The checkpoints the gateway signed along the way verify.
    const signer = loadCheckpointSigner(configSchema.parse({ data_dir: dataDir }), { create: false })!;
    const write = process.stdout.write;
    process.stdout.write = () => true;
    try {
      expect(await runAuditVerify({ dataDir, key: signer.verifierKey })).toBe(0);
    } finally {
      process.stdout.write = write;
    }
  }, 120_000);
});
