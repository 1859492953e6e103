import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer } from "node:https";
import path from "node:path";
import { generate } from "selfsigned";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/audit/canonical-json.js";
import { computeEventHash } from "../../src/audit/event-hash.js";
import { startAuditExporter } from "../../src/audit-export/audit-exporter.js";
import { createExportSinks } from "../../src/audit-export/create-export-sinks.js";
import { type ExportedEvent, type ExportSink, exportRecord } from "../../src/audit-export/export-sink.js";
import { configSchema } from "../../src/config/schema.js";
import { openSqliteAuditReader } from "../../src/store/sqlite-audit-reader.js";
import { createSqliteExportCursors } from "../../src/store/sqlite-export-cursors.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionStart, tempDir } from "../store/store-fixtures.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

describe("NDJSON export over HTTPS", () => {
  it("signs each batch with HMAC-SHA256, retries a refused batch, and the records recompute the chain", async () => {
    const pems = await generate([{ name: "commonName", value: "localhost" }], {
      keyType: "ec",
      algorithm: "sha256",
      extensions: [{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }],
    });
    const caFile = path.join(dir, "ca.pem");
    writeFileSync(caFile, pems.cert);
    const secretFile = path.join(dir, "hmac");
    writeFileSync(secretFile, "an-archive-hmac-key-of-some-length\n");
    const lines: string[] = [];
    let refuseNext = true;
    const server = createServer({ key: pems.private, cert: pems.cert }, (request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on("end", () => {
        const expected = `sha256=${createHmac("sha256", "an-archive-hmac-key-of-some-length").update(body).digest("hex")}`;
        if (request.headers["x-latch-signature"] !== expected) return void response.writeHead(401).end();
        // The first batch is refused, as by a receiver that is briefly unwell.
        if (refuseNext) {
          refuseNext = false;
          return void response.writeHead(503).end();
        }
        lines.push(...body.split("\n").filter((line) => line !== ""));
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;

    const file = path.join(dir, "latch.db");
    const store = createSqliteStore(file);
    store.append(sessionStart("s1"));
    store.append(operation("s1", "SELECT 1"));
    store.append(operation("s1", "DELETE FROM t", "deny"));
    const config = configSchema.parse({
      audit: {
        export: [
          {
            type: "ndjson",
            name: "archive",
            url: `https://127.0.0.1:${port}/in`,
            secret: { file: secretFile },
            ca_file: caFile,
          },
        ],
      },
    });
    const reader = openSqliteAuditReader(file);
    const cursors = createSqliteExportCursors(file);
    const failures: string[] = [];
    const exporter = startAuditExporter({
      sinks: createExportSinks(config),
      reader,
      cursors,
      headSeq: () => store.head().seq,
      pollMs: 20,
      retry: { firstMs: 20, maxMs: 100 },
      onFailure: (_sink, error) => failures.push((error as Error).message),
    });
    try {
      while ((await cursors.get("archive")) < 3) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(failures).toEqual(["NDJSON receiver answered HTTP 503"]);
      expect(exporter.status()).toEqual([
        { sink: "archive", lagEvents: 0, lagSeconds: 0, failures: 1, exported: 3 },
      ]);
    } finally {
      await exporter.stop();
      server.close();
      reader.close();
      cursors.close();
      store.close();
    }
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((record) => record.seq)).toEqual([1, 2, 3]);
    // Each operation record names its session's subject, though the operation's body leaves it out.
    expect(records.map((record) => (record.session as { subject?: string } | undefined)?.subject)).toEqual([
      undefined,
      "agent-1",
      "agent-1",
    ]);
    let prev = "0".repeat(64);
    for (const record of records) {
      expect(record.prevHash).toBe(prev);
      const hash = computeEventHash({
        prevHash: prev,
        seq: record.seq as number,
        ts: record.ts as string,
        kind: record.kind as string,
        sessionId: record.sessionId as string | null,
        dataJson: canonicalJson(record.data),
      });
      expect(hash).toBe(record.hash);
      prev = hash;
    }
  }, 30_000);

  it("gives events after the cursor their session's facts from a session_start exported before it", async () => {
    const file = path.join(dir, "latch.db");
    const store = createSqliteStore(file);
    store.append(sessionStart("s1", "agent-7", "billing"));
    store.append(operation("s1", "SELECT 1"));
    store.append({ kind: "session_end", sessionId: "s1", data: { reason: "client closed" } });
    store.append(operation("s2", "SELECT 2")); // no session_start anywhere: no facts to give
    const reader = openSqliteAuditReader(file);
    const cursors = createSqliteExportCursors(file);
    await cursors.set("collect", 1);
    const received: ExportedEvent[] = [];
    const sink: ExportSink = {
      name: "collect",
      send: async (events) => {
        received.push(...events);
        return events.at(-1)?.seq ?? 1;
      },
      close: async () => undefined,
    };
    const exporter = startAuditExporter({ sinks: [sink], reader, cursors, headSeq: () => 4, pollMs: 20 });
    try {
      while ((await cursors.get("collect")) < 4) await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await exporter.stop();
      reader.close();
      cursors.close();
      store.close();
    }
    expect(received.map((event) => [event.seq, event.session?.subject, event.session?.connection])).toEqual([
      [2, "agent-7", "billing"],
      [3, "agent-7", "billing"],
      [4, undefined, undefined],
    ]);
    expect(exportRecord(received[0]!)).toContain('"session":{"clientAddress":"127.0.0.1:50000"');
  });
});
