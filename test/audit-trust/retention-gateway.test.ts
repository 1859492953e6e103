import { rmSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { loadCheckpointSigner } from "../../src/audit/checkpoint-key.js";
import { runAuditVerify } from "../../src/cli/commands/audit.js";
import { configSchema } from "../../src/config/schema.js";
import { startTestGateway } from "../support/test-gateway.js";

describe("retention in the gateway", () => {
  it("prunes on its interval to a signed checkpoint, records it in the chain, and the store still verifies", async () => {
    const gw = await startTestGateway(undefined, {
      overrides: {
        connections: { app: { type: "postgres", upstream: "postgres://postgres@127.0.0.1:5432/postgres" } },
        audit: { retention: "1ms", prune_every: "100ms", checkpoints: { every_events: 5 } },
      },
    });
    const dataDir = gw.dataDir;
    let pruned: Record<string, unknown> | undefined;
    try {
      const client = await gw.connect(await gw.token("agent-1", ["agents"]));
      for (let i = 0; i < 12; i++) await client.query(`SELECT ${i}`);
      await client.end();
      const until = Date.now() + 30_000;
      while (pruned === undefined && Date.now() < until) {
        [pruned] = (await gw.gateway.audit.events({ kind: "audit_pruned" })).map((event) => event.data);
        if (pruned === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(pruned).toMatchObject({ through: expect.any(Number), anchorSeq: expect.any(Number) });
      expect((await gw.gateway.audit.events({ limit: 1 }))[0]!.seq).toBe((pruned!.through as number) + 1);
      await gw.gateway.stop();
      let out = "";
      const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
        out += String(chunk);
        return true;
      });
      const key = loadCheckpointSigner(configSchema.parse({ data_dir: dataDir }), { create: false })!;
      try {
        expect(await runAuditVerify({ dataDir, key: key.verifierKey })).toBe(0);
      } finally {
        spy.mockRestore();
      }
      expect(out).toContain("pruned by retention: events 1..");
      expect(out).toContain("checkpoints OK");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
