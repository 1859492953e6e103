import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startTestGateway } from "../support/test-gateway.js";

/** Issue 10: each start records the chain head it found, so a cut-off history shows against a later start. */

const dataDir = mkdtempSync(path.join(tmpdir(), "latch-start-head-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("gateway_start", () => {
  it("records the head of the chain the gateway continues", async () => {
    const overrides = { listen: { admin: "127.0.0.1:0" } };
    const first = await startTestGateway(undefined, { dataDir, overrides });
    const [firstStart] = await first.gateway.audit.events({ kind: "gateway_start", limit: 10 });
    expect(firstStart?.data).toMatchObject({ chainHead: { seq: 0, hash: "0".repeat(64) } });
    await first.gateway.stop();

    const second = await startTestGateway(undefined, { dataDir, overrides });
    const events = await second.gateway.audit.events({ limit: 100 });
    const starts = events.filter((event) => event.kind === "gateway_start");
    const lastBefore = events[events.indexOf(starts[1]!) - 1]!;
    expect(lastBefore.kind).toBe("gateway_stop");
    expect(starts[1]?.data).toMatchObject({ chainHead: { seq: lastBefore.seq, hash: lastBefore.hash } });
    await second.stop();
  });
});
