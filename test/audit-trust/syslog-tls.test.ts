import { writeFileSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { generate } from "selfsigned";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSyslogSink } from "../../src/audit-export/syslog-sink.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import { operation, sessionStart, tempDir } from "../store/store-fixtures.js";

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const certificate = () =>
  generate([{ name: "commonName", value: "siem" }], {
    keyType: "ec",
    algorithm: "sha256",
    extensions: [{ name: "subjectAltName", altNames: [{ type: 2, value: "localhost" }] }],
  });

describe("syslog over TLS (RFC 5425)", () => {
  it("frames RFC 5424 messages by octet count over TLS, and a certificate it cannot trust is a failure, not a hang", async () => {
    const pems = await certificate();
    const other = await certificate();
    const caFile = path.join(dir, "ca.pem");
    const wrongCa = path.join(dir, "other.pem");
    writeFileSync(caFile, pems.cert);
    writeFileSync(wrongCa, other.cert);
    let received = Buffer.alloc(0);
    const server = tls.createServer({ key: pems.private, cert: pems.cert }, (socket) => {
      socket.on("data", (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
      });
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const store = createSqliteStore(path.join(dir, "latch.db"));
    const events = [store.append(sessionStart("s1")), store.append(operation("s1", "SELECT 'é]\"'"))];
    store.close();
    let clock = 0;
    const options = {
      name: "siem",
      host: "127.0.0.1",
      port,
      facility: 13,
      appName: "latch",
      now: () => clock,
    };
    const sink = createSyslogSink({ ...options, tls: { caFile, serverName: "localhost" }, confirmMs: 2000 });
    try {
      // Written, not yet confirmed: TCP syslog has no acknowledgement, so delivery counts after the window.
      expect(await sink.send(events)).toBe(0);
      clock = 2000;
      expect(await sink.send([])).toBe(2);
      while (received.toString("utf8").split("\uFEFF").length < 3)
        await new Promise((r) => setTimeout(r, 10));
      const messages: string[] = [];
      let rest = received;
      while (rest.length > 0) {
        const space = rest.indexOf(0x20);
        const length = Number(rest.subarray(0, space).toString("ascii"));
        messages.push(rest.subarray(space + 1, space + 1 + length).toString("utf8"));
        rest = rest.subarray(space + 1 + length);
      }
      expect(messages).toHaveLength(2);
      expect(messages[1]).toMatch(
        /^<110>1 \S+Z \S+ latch \d+ operation \[latch@32473 seq="2" hash="[0-9a-f]{64}" session="s1"\] \uFEFF\{.*"seq":2/u,
      );
      expect(JSON.parse(messages[1]!.split("\uFEFF")[1]!)).toMatchObject({ seq: 2, hash: events[1]!.hash });

      const untrusting = createSyslogSink({ ...options, tls: { caFile: wrongCa, serverName: "localhost" } });
      await expect(untrusting.send(events)).rejects.toThrow(/syslog receiver unreachable/);
      await untrusting.close();
    } finally {
      await sink.close();
      server.close();
    }
  });
});
