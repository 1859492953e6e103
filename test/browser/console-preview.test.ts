import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../e2e/pg-fixture.js";
import { startBrowser, type TestBrowser } from "../support/browser.js";

/**
 * Preview, then commit in the console (docs/approvals.md): a held psql UPDATE's rolled-back preview (rows per
 * table, the masked sample, the plan) is on the request card a real browser shows the approver; a refused
 * preview says why.
 */

const POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("people-writes-need-dba")
@approval("dba")
@preview("true")
permit(principal in Group::"agents", action in Action::"sql:write", resource in Connection::"app");
`;

let fx: GatewayFixture;
let browser: TestBrowser;
let agent: string;
let alice: string;

beforeAll(async () => {
  fx = await startGatewayFixture({
    policy: POLICY,
    masking: ["pii"],
    overrides: {
      approvals: { timeout: "2m", mode: "hold", preview: { sample_rows: 3 } },
      masking: { pii: { columns: ["public.people.ssn"] } },
    },
  });
  await fx.direct(`
    SET ROLE ${fx.cluster.appUser};
    CREATE TABLE public.people (id int PRIMARY KEY, name text NOT NULL, ssn text);
    INSERT INTO public.people VALUES (1, 'Ada', '123-45-6789'), (2, 'Bob', '987-65-4321');
    RESET ROLE;
  `);
  agent = await fx.gw.token("ci-bot", ["agents"]);
  alice = await fx.gw.token("alice", ["dba"]);
  browser = await startBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await fx?.stop();
});

function psql(sql: string): Promise<number | null> {
  const child = spawn("psql", [fx.gw.conninfo(), "-v", "ON_ERROR_STOP=1", "-c", sql], {
    env: { ...process.env, PGPASSWORD: agent, PGCONNECT_TIMEOUT: "10" },
    stdio: "ignore",
  });
  return new Promise((resolve) => child.on("close", resolve));
}

describe("console: a held write's preview", () => {
  it("shows the rows that would change per table and the masked sample; the table is unchanged until approved", async () => {
    const page = await browser.page();
    await page.goto(`${fx.gw.adminUrl}/`);
    await page.getByLabel("Token").fill(alice);
    await page.getByRole("button", { name: "Sign in with token" }).click();
    await page.getByRole("heading", { name: "Approvals" }).waitFor();
    const exit = psql("UPDATE people SET name = name || ' (checked)'");
    const card = page.getByRole("article").filter({ hasText: "UPDATE people SET name" });
    const preview = card.getByRole("region", { name: "Preview" });
    await preview.getByText("2 rows would change (UPDATE 2;").waitFor();
    expect(await preview.getByRole("row", { name: /public\.people\s+0\s+2\s+0/ }).count()).toBe(1);
    // The sample shows the changed rows with the ssn column masked, never its value.
    await preview.getByText("Ada (checked)").waitFor();
    expect(await preview.textContent()).not.toMatch(/123-45-6789|987-65-4321/);
    await browser.screenshot(page, "request-preview");
    expect((await fx.direct("SELECT name FROM people WHERE id = 1")).rows[0].name).toBe("Ada");
    await card.getByRole("button", { name: "Approve" }).click();
    expect(await exit).toBe(0);
    expect((await fx.direct("SELECT name FROM people WHERE id = 1")).rows[0].name).toBe("Ada (checked)");
    await page.close();
  }, 60_000);

  it("says why a statement was not previewed", async () => {
    const page = await browser.page();
    await page.goto(`${fx.gw.adminUrl}/`);
    await page.getByLabel("Token").fill(alice);
    await page.getByRole("button", { name: "Sign in with token" }).click();
    await page.getByRole("heading", { name: "Approvals" }).waitFor();
    const exit = psql("UPDATE people SET name = 'x' WHERE id = 1; UPDATE people SET name = 'y' WHERE id = 2");
    const card = page.getByRole("article").filter({ hasText: "UPDATE people SET name = 'x'" });
    await card
      .getByRole("region", { name: "Preview" })
      .getByText(/Not previewed: .*only one statement/)
      .waitFor();
    await card.getByRole("button", { name: "Deny" }).click();
    await page.getByLabel("Reason").fill("one at a time");
    await page.getByRole("button", { name: "Deny" }).click();
    expect(await exit).not.toBe(0);
    await page.close();
  }, 60_000);

  it("the page broke no CSP rule and threw nothing", () => {
    expect(browser.problems).toEqual([]);
  });
});
