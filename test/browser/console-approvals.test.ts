import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../e2e/pg-fixture.js";
import { startBrowser, type TestBrowser } from "../support/browser.js";
import type { TestGateway } from "../support/test-gateway.js";

/**
 * The console in a real browser: an approver who is not an admin signs in, sees a held psql statement arrive
 * live, approves it and psql finishes; a second one is denied from the request's own URL (the link a Slack or
 * webhook notification carries) and psql reports the denial.
 */

const POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("items-writes-need-dba")
@approval("dba")
permit(principal in Group::"agents", action in Action::"sql:write", resource == Table::"app/public.items");
`;

const REQUEST_ID = /request (req_[A-Za-z0-9_-]+)/;

let fx: GatewayFixture;
let browser: TestBrowser;
let agent: string;
let alice: string;

beforeAll(async () => {
  fx = await startGatewayFixture({
    policy: POLICY,
    overrides: { approvals: { timeout: "2m", mode: "hold", max_grant: "1h" } },
  });
  agent = await fx.gw.token("ci-bot", ["agents"]);
  alice = await fx.gw.token("alice", ["dba"]);
  browser = await startBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await fx?.stop();
});

function spawnPsql(gw: TestGateway, token: string, sql: string) {
  const child = spawn("psql", [gw.conninfo(), "-v", "ON_ERROR_STOP=1", "-c", sql], {
    env: { ...process.env, PGPASSWORD: token, PGCONNECT_TIMEOUT: "10" },
  });
  let stdout = "";
  let stderr = "";
  let found: (id: string) => void = () => {};
  const requestId = new Promise<string>((resolve) => {
    found = resolve;
  });
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    const match = REQUEST_ID.exec(stderr);
    if (match) found(match[1]!);
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { requestId, exit };
}

describe("console: approvals in a real browser", () => {
  it("an approver signs in with a token, approves a held psql UPDATE live, and psql finishes", async () => {
    const page = await browser.page();
    await page.goto(`${fx.gw.adminUrl}/`);
    await page.getByRole("heading", { name: "Sign in to Latch" }).waitFor();
    await page.getByLabel("Token").fill(alice);
    await page.getByRole("button", { name: "Sign in with token" }).click();
    await page.getByRole("heading", { name: "Approvals" }).waitFor();
    await page.getByText("live", { exact: true }).waitFor();
    // An approver (not an admin) sees no admin-only tabs: the API would refuse them.
    expect(await page.getByRole("link", { name: "Sessions" }).count()).toBe(0);

    const psql = spawnPsql(fx.gw, agent, "UPDATE items SET name = 'approved in the browser' WHERE id = 3");
    const requestId = await psql.requestId;
    const card = page.getByRole("article").filter({ hasText: "ci-bot" });
    await card.getByText("UPDATE items SET name").waitFor();
    await card.getByText(/left$/).waitFor();
    await browser.screenshot(page, "inbox-pending");
    await card.getByRole("button", { name: "Approve" }).click();

    const { code, stdout } = await psql.exit;
    expect(code).toBe(0);
    expect(stdout).toContain("UPDATE 1");
    const row = await fx.direct("SELECT name FROM items WHERE id = 3");
    expect(row.rows[0].name).toBe("approved in the browser");
    await page.getByText("Nothing waits for a decision.").waitFor();
    const decided = await fetch(`${fx.gw.adminUrl}/api/requests/${requestId}`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(((await decided.json()) as { request: { state: string } }).request.state).toBe("approved");
    await page.close();
  });

  it("the notification link opens the request; a denial with a reason reaches psql", async () => {
    const page = await browser.page();
    const psql = spawnPsql(fx.gw, agent, "DELETE FROM items WHERE id = 4");
    const requestId = await psql.requestId;
    // A fresh tab from a Slack link: sign in first, then land on the request itself.
    await page.goto(`${fx.gw.adminUrl}/console/requests/${requestId}`);
    await page.getByLabel("Token").fill(alice);
    await page.getByRole("button", { name: "Sign in with token" }).click();
    await page.getByText("DELETE FROM items WHERE id = 4").waitFor();
    expect(new URL(page.url()).pathname).toBe(`/console/requests/${requestId}`);
    await page.getByRole("button", { name: "Deny" }).click();
    await page
      .getByRole("alert")
      .getByText(/Say why you deny it/)
      .waitFor();
    await page.getByLabel("Reason").fill("not during the freeze");
    await browser.screenshot(page, "request-deny");
    await page.getByRole("button", { name: "Deny" }).click();
    await page.getByText("denied", { exact: true }).waitFor();

    const { code, stderr } = await psql.exit;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/denied/);
    expect((await fx.direct("SELECT count(*)::int AS n FROM items WHERE id = 4")).rows[0].n).toBe(1);
    await page.close();
  });

  it("the page broke no CSP rule and threw nothing", () => {
    expect(browser.problems).toEqual([]);
  });
});
