import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "./pg-fixture.js";

// Tightening policy takes effect on live sessions, not only on new ones.
const BEFORE = `
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");`;
const AFTER = `
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
forbid(principal, action, resource == Table::"app/public.items");`;

let fx: GatewayFixture;
let admin: string;
beforeAll(async () => {
  fx = await startGatewayFixture({ policy: BEFORE });
  admin = await fx.gw.token("ops", ["latch-admins"]);
});
afterAll(async () => fx?.stop());

const reload = (token: string) =>
  fetch(`${fx.gw.adminUrl}/api/policies/reload`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });

describe("policy reload", () => {
  it("ends live sessions whose recent statements the new policies deny, and keeps the others", async () => {
    const agent = await fx.gw.token("ci-bot", ["agents"]);
    const reader = await fx.gw.connect(agent);
    const bystander = await fx.gw.connect(agent);
    await reader.query("SELECT count(*) FROM items");
    await bystander.query("SELECT 1");
    const ended = new Promise<Error>((resolve) => reader.once("error", resolve));

    writeFileSync(path.join(fx.gw.dataDir, "policies", "test.cedar"), AFTER);
    const answer = await reload(admin);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ policies: 2, sessionsEnded: 1 });
    expect((await ended).message).toMatch(/policies were reloaded and now deny it/);
    expect((await bystander.query("SELECT 2 AS still")).rows[0].still).toBe(2);
    await expect(bystander.query("SELECT * FROM items")).rejects.toMatchObject({ code: "42501" });
    await bystander.end();
  });

  it("refuses an invalid policy set and keeps the previous one in force", async () => {
    writeFileSync(path.join(fx.gw.dataDir, "policies", "test.cedar"), "permit(principal, action, resource");
    const answer = await reload(admin);
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { message: string }).message).toMatch(/previous policies stay in force/);
    const client = await fx.gw.connect(await fx.gw.token("ci-bot", ["agents"]));
    await expect(client.query("SELECT * FROM items")).rejects.toMatchObject({ code: "42501" });
    expect((await client.query("SELECT 3 AS ok")).rows[0].ok).toBe(3);
    await client.end();
  });

  it("needs an admin token", async () => {
    expect((await reload(await fx.gw.token("ci-bot", ["agents"]))).status).toBe(403);
  });
});
