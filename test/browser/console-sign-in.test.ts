import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBrowser, type TestBrowser } from "../support/browser.js";
import { freePort } from "../support/free-port.js";
import { startOidcProvider, type TestOidcProvider } from "../support/oidc-provider.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/**
 * Console single sign-on in a real browser against a real OIDC provider (oidc-provider, authorization code
 * with PKCE): the session cookie is HttpOnly, Secure and SameSite=Strict, a state-changing call without the
 * CSRF token is refused, and signing out ends the session on the gateway.
 */

let provider: TestOidcProvider;
let gw: TestGateway;
let browser: TestBrowser;

beforeAll(async () => {
  provider = await startOidcProvider({ signIn: true });
  provider.setPerson("alice", ["dba", "latch-auditors"]);
  const port = await freePort();
  const client = provider.addSignInClient(`http://127.0.0.1:${port}/console/auth/oidc/corp/callback`);
  process.env.LATCH_TEST_CONSOLE_SECRET = client.clientSecret;
  gw = await startTestGateway(undefined, {
    overrides: {
      listen: { admin: `127.0.0.1:${port}` },
      identity: {
        dev_issuer: true,
        issuers: [{ issuer: provider.issuer, audience: "latch" }],
        auditor_groups: ["latch-auditors"],
      },
      console: {
        oidc: [
          {
            id: "corp",
            name: "Corp SSO",
            issuer: provider.issuer,
            client_id: client.clientId,
            client_secret: { env: "LATCH_TEST_CONSOLE_SECRET" },
          },
        ],
      },
    },
  });
  browser = await startBrowser();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await provider?.close();
});

describe("console: OIDC sign-in in a real browser", () => {
  it("signs in through the provider and lands back where the link pointed", async () => {
    const page = await browser.page();
    await page.goto(`${gw.adminUrl}/console/audit`);
    await browser.screenshot(page, "sign-in");
    await page.getByRole("link", { name: "Sign in with Corp SSO" }).click();
    // The provider's own login page.
    await page.locator('input[name="login"]').fill("alice");
    await page.locator('input[name="password"]').fill("any password");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByText("alice (auditor)").waitFor();
    expect(new URL(page.url()).pathname).toBe("/console/audit");
    await page.getByRole("heading", { name: "Audit" }).waitFor();

    const cookie = (await browser.context.cookies(gw.adminUrl)).find((c) => c.name === "latch_console");
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/" });
    // The page's JavaScript cannot read it.
    expect(await page.evaluate("document.cookie")).not.toContain("latch_console");

    const me = (await page.evaluate(async () => (await fetch("/api/me")).json())) as {
      groups: string[];
      csrf: string;
    };
    expect(me).toMatchObject({ subject: "alice", via: "cookie", roles: { auditor: true, admin: false } });
    expect(me.groups).toEqual(["dba", "latch-auditors"]);

    // A state-changing call riding on the cookie alone is refused; with the CSRF token it reaches the route.
    const attempt = (csrf?: string) =>
      page.evaluate(async (token) => {
        const response = await fetch("/api/requests/req_nope/approve", {
          method: "POST",
          headers: { "content-type": "application/json", ...(token ? { "x-csrf-token": token } : {}) },
          body: "{}",
        });
        return { status: response.status, body: (await response.json()) as { error?: string } };
      }, csrf);
    expect(await attempt()).toMatchObject({ status: 403, body: { error: "csrf" } });
    expect(await attempt("wrong")).toMatchObject({ status: 403, body: { error: "csrf" } });
    expect((await attempt(me.csrf)).body.error).toBe("request_not_found");
    // An auditor still cannot do an admin's work, however signed in.
    const block = await page.evaluate(async (token) => {
      const response = await fetch("/api/principals/bob/block", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": token },
        body: "{}",
      });
      return response.status;
    }, me.csrf);
    expect(block).toBe(403);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to Latch" }).waitFor();
    expect(await page.evaluate(async () => (await fetch("/api/me")).status)).toBe(401);
    await page.close();
  });

  it("refuses a callback that no sign-in of this browser started", async () => {
    const page = await browser.page();
    await page.goto(`${gw.adminUrl}/console/auth/oidc/corp/callback?code=forged&state=forged`);
    await page
      .getByRole("alert")
      .getByText(/sign-in expired or was started in another browser/)
      .waitFor();
    expect(await page.evaluate(async () => (await fetch("/api/me")).status)).toBe(401);
    await page.close();
  });
});
