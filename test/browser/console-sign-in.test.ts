import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBrowser, type TestBrowser } from "../support/browser.js";
import { freePort } from "../support/free-port.js";
import { startOidcProvider, type TestOidcProvider } from "../support/oidc-provider.js";
import { startSamlIdp, type TestSamlIdp } from "../support/saml-idp.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/**
 * Console single sign-on in a real browser against a real OIDC provider (oidc-provider, authorization code
 * with PKCE): the session cookie is HttpOnly, Secure and SameSite=Strict, a state-changing call without the
 * CSRF token is refused, and signing out ends the session on the gateway.
 */

let provider: TestOidcProvider;
let gw: TestGateway;
let browser: TestBrowser;
let idp: TestSamlIdp;
let scratch: string;

beforeAll(async () => {
  provider = await startOidcProvider({ signIn: true });
  scratch = mkdtempSync(path.join(os.tmpdir(), "latch-saml-"));
  idp = await startSamlIdp(scratch);
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
        saml: [
          {
            id: "okta",
            name: "Okta (SAML)",
            entry_point: idp.ssoUrl,
            idp_issuer: idp.entityId,
            idp_cert_file: idp.certFile,
            group_prefix: "saml:",
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
  await idp?.close();
  rmSync(scratch, { recursive: true, force: true });
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
      .getByText(/sign-in was already used or started in another browser/)
      .waitFor();
    expect(await page.evaluate(async () => (await fetch("/api/me")).status)).toBe(401);
    await page.close();
  });

  it("signs in with SAML: a signed assertion from the IdP, groups from its attribute", async () => {
    idp.tamper(undefined);
    idp.signInAs("sam@example.com", ["dba"]);
    const page = await browser.page();
    await page.goto(`${gw.adminUrl}/console/`);
    await page.getByRole("link", { name: "Sign in with Okta (SAML)" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByText("sam@example.com (approver)").waitFor();
    const me = (await page.evaluate(async () => (await fetch("/api/me")).json())) as { groups: string[] };
    expect(me.groups).toEqual(["saml:dba"]);
    await page.close();
  });
});

/** One SAML round trip without a browser: the AuthnRequest from our login route, the IdP's answer, our ACS. */
async function samlAttempt(response?: string): Promise<{ location: string; signedIn: boolean }> {
  let samlResponse = response;
  let relay = "/console/";
  if (samlResponse === undefined) {
    const login = await fetch(`${gw.adminUrl}/console/auth/saml/okta/login`, { redirect: "manual" });
    const page = await (await fetch(login.headers.get("location")!)).text();
    samlResponse = /name="SAMLResponse" value="([^"]+)"/.exec(page)![1]!;
    relay = /name="RelayState" value="([^"]*)"/.exec(page)![1]!;
  }
  const acs = await fetch(`${gw.adminUrl}/console/auth/saml/okta/acs`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ SAMLResponse: samlResponse, RelayState: relay }),
  });
  return {
    location: decodeURIComponent(acs.headers.get("location") ?? ""),
    signedIn: (acs.headers.getSetCookie() ?? []).some(
      (line) => /^latch_console=[^;]+;/.test(line) && !line.includes("Max-Age=0"),
    ),
  };
}

describe("console: what the SAML service provider refuses", () => {
  it("accepts a good response once; the same response again is refused (replay)", async () => {
    idp.tamper(undefined);
    idp.signInAs("sam@example.com", ["dba"]);
    expect(await samlAttempt()).toEqual({ location: "/console/", signedIn: true });
    const replay = await samlAttempt(idp.lastResponse);
    expect(replay.signedIn).toBe(false);
    // Its AuthnRequest was taken from the store by the first response: the replay names no sign-in in progress.
    expect(replay.location).toMatch(/^\/console\/sign-in\?error=this sign-in was already used/);
  });

  it.each([
    ["an unsigned assertion", { unsigned: true }],
    ["another audience", { audience: "https://someone-else.example/sp" }],
    ["another recipient", { recipient: "https://someone-else.example/acs" }],
  ])("refuses %s", async (_what, change) => {
    idp.tamper(change);
    const attempt = await samlAttempt();
    idp.tamper(undefined);
    expect(attempt.signedIn).toBe(false);
    expect(attempt.location).toMatch(/^\/console\/sign-in\?error=.*refused/);
  });

  it("a forged response naming a real sign-in in progress does not use it up", async () => {
    idp.signInAs("sam@example.com", ["dba"]);
    const login = await fetch(`${gw.adminUrl}/console/auth/saml/okta/login`, { redirect: "manual" });
    const answer = async (change: { unsigned?: boolean } | undefined) => {
      idp.tamper(change);
      const page = await (await fetch(login.headers.get("location")!)).text();
      idp.tamper(undefined);
      return /name="SAMLResponse" value="([^"]+)"/.exec(page)![1]!;
    };
    const forged = await answer({ unsigned: true }); // same AuthnRequest, so the same InResponseTo
    const genuine = await answer(undefined);
    const refused = await samlAttempt(forged);
    expect(refused.signedIn).toBe(false);
    expect(refused.location).toMatch(/^\/console\/sign-in\?error=.*refused/);
    expect(await samlAttempt(genuine)).toEqual({ location: "/console/", signedIn: true });
  });

  it("publishes SP metadata naming its ACS URL", async () => {
    const metadata = await (await fetch(`${gw.adminUrl}/console/auth/saml/okta/metadata`)).text();
    expect(metadata).toContain("EntityDescriptor");
    expect(metadata).toContain(`Location="${gw.adminUrl}/console/auth/saml/okta/acs"`);
  });
});
