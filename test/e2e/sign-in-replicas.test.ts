import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signInAtProvider } from "../support/oidc-browserless.js";
import { startOidcProvider, type TestOidcProvider } from "../support/oidc-provider.js";
import { type SamlReplicas, startSamlReplicas } from "../support/saml-replicas.js";
import type { TestGateway } from "../support/test-gateway.js";

// Two gateways on one PostgreSQL store behind one public URL (a load balancer): a console single sign-on that
// starts on gateway A finishes on gateway B, because the sign-in in progress (OIDC state, nonce, PKCE verifier;
// the SAML AuthnRequest ID) is in the store. It is taken once: a replayed callback and the loser of two gateways
// racing the same callback are refused, and an expired one is refused saying so.
const PUBLIC = "http://latch.lb.test";
const SECRET_ENV = "LATCH_TEST_SSO_REPLICAS_SECRET";
let provider: TestOidcProvider;
let replicas: SamlReplicas;

beforeAll(async () => {
  provider = await startOidcProvider({ signIn: true });
  provider.setPerson("alice", ["dba"]);
  const client = provider.addSignInClient(`${PUBLIC}/console/auth/oidc/corp/callback`);
  process.env[SECRET_ENV] = client.clientSecret;
  replicas = await startSamlReplicas({
    scratchPrefix: "latch-sign-in-replicas-",
    identity: () => ({
      dev_issuer: true,
      issuers: [{ issuer: provider.issuer, audience: "latch" }],
      auditor_groups: ["dba", "saml:auditors"],
    }),
    saml: { group_prefix: "saml:" },
    console: {
      public_url: PUBLIC,
      oidc: [
        {
          id: "corp",
          name: "Corp SSO",
          issuer: provider.issuer,
          client_id: client.clientId,
          client_secret: { env: SECRET_ENV },
        },
      ],
    },
  });
}, 180_000);

afterAll(async () => {
  await replicas?.stop();
  await provider?.close();
});

/** What the load balancer would do: the public URL's path, on the gateway it picked. */
const on = (gateway: TestGateway, url: string) => url.replace(PUBLIC, gateway.adminUrl);
const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
const cookieNamed = (response: Response, name: string) =>
  response.headers
    .getSetCookie()
    .find((line) => line.startsWith(`${name}=`) && !line.includes("Max-Age=0"))
    ?.split(";")[0];

/** The button on `gateway`, then the provider; resolves the sign-in cookie and the provider's redirect back. */
async function startOidc(gateway: TestGateway, returnTo = "/console/audit") {
  const login = await fetch(`${gateway.adminUrl}/console/auth/oidc/corp/login?return=${returnTo}`, {
    redirect: "manual",
  });
  expect(login.status).toBe(302);
  const authorize = login.headers.get("location")!;
  expect(authorize.startsWith(provider.issuer)).toBe(true);
  const cookie = cookieNamed(login, "latch_signin")!;
  expect(cookie).toMatch(/^latch_signin=[A-Za-z0-9_-]{43}$/);
  const callback = await signInAtProvider(authorize, "alice", `${PUBLIC}/console/auth/oidc/corp/callback`);
  return { cookie, callback, authorize: new URL(authorize) };
}

const finish = async (gateway: TestGateway, url: string, cookie: string) => {
  const response = await fetch(on(gateway, url), { redirect: "manual", headers: { cookie } });
  return {
    location: decodeURIComponent(response.headers.get("location") ?? ""),
    session: cookieNamed(response, "latch_console"),
  };
};

const me = async (gateway: TestGateway, cookie: string) => {
  const response = await fetch(`${gateway.adminUrl}/api/me`, { headers: { cookie } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe("console sign-on across two gateways on one store", () => {
  it("OIDC: started on A, the provider's callback lands on B and signs in; a replay is refused on both", async () => {
    const [a, b] = replicas.gateways;
    const { cookie, callback, authorize } = await startOidc(a);
    const id = cookie.split("=")[1]!;
    // The store holds the sign-in under a hash of the cookie's id, never the id.
    const rows = await replicas.storeQuery(
      "SELECT id_hash, kind, provider, data::text AS data FROM latch_console_pending_sign_ins",
    );
    expect(rows).toContainEqual(
      expect.objectContaining({ id_hash: sha256(id), kind: "oidc", provider: "corp" }),
    );
    expect(JSON.stringify(rows)).not.toContain(id);

    const done = await finish(b, callback, cookie);
    expect(done.location).toBe("/console/audit");
    expect(done.session).toBeDefined();
    expect(await me(a, done.session!)).toMatchObject({
      status: 200,
      body: { subject: "alice", via: "cookie" },
    });
    expect(
      await replicas.storeQuery(
        `SELECT 1 FROM latch_console_pending_sign_ins WHERE id_hash = '${sha256(id)}'`,
      ),
    ).toEqual([]);

    for (const gateway of [a, b]) {
      const replay = await finish(gateway, callback, cookie);
      expect(replay.session).toBeUndefined();
      expect(replay.location).toBe(
        "/console/sign-in?error=this sign-in was already used or started in another browser; sign in again",
      );
    }

    // The nonce (a secret of the sign-in) is in no audit event and no answer of the API.
    const nonce = authorize.searchParams.get("nonce")!;
    expect(nonce.length).toBeGreaterThan(20);
    const audit = await replicas.storeQuery("SELECT e::text AS event FROM latch_audit_events e");
    expect(JSON.stringify(audit)).not.toContain(nonce);
    expect(JSON.stringify((await me(b, done.session!)).body)).not.toContain(nonce);
  });

  it("OIDC: of A and B racing one callback, exactly one signs in", async () => {
    const [a, b] = replicas.gateways;
    const { cookie, callback } = await startOidc(b);
    const results = await Promise.all([finish(a, callback, cookie), finish(b, callback, cookie)]);
    expect(results.filter((result) => result.session !== undefined)).toHaveLength(1);
    expect(results.find((result) => result.session === undefined)?.location).toMatch(/already used/);
  });

  it("OIDC: a sign-in whose ten minutes have passed is refused, saying it expired", async () => {
    const [a, b] = replicas.gateways;
    const { cookie, callback } = await startOidc(a);
    const hash = sha256(cookie.split("=")[1]!);
    // The gateway's clock is real: the row's expiry is moved to the past instead of waiting ten minutes.
    await replicas.storeQuery(
      `UPDATE latch_console_pending_sign_ins SET expires_at = created_at - 1 WHERE id_hash = '${hash}'`,
    );
    const late = await finish(b, callback, cookie);
    expect(late.session).toBeUndefined();
    expect(late.location).toBe(
      "/console/sign-in?error=this sign-in expired (it must finish within 10 minutes of the sign-in button); sign in again",
    );
    expect(
      await replicas.storeQuery(`SELECT 1 FROM latch_console_pending_sign_ins WHERE id_hash = '${hash}'`),
    ).toEqual([]);
  });

  it("SAML: the AuthnRequest issued by A is answered at B's ACS; the same response again is refused", async () => {
    const [a, b] = replicas.gateways;
    replicas.idp.signInAs("carol", ["auditors"]);
    const login = await fetch(`${a.adminUrl}/console/auth/saml/idp/login?return=/console/sessions`, {
      redirect: "manual",
    });
    const page = await (await fetch(login.headers.get("location")!)).text();
    const acs = /action="([^"]+)"/.exec(page)![1]!;
    expect(acs).toBe(`${PUBLIC}/console/auth/saml/idp/acs`);
    const post = (gateway: TestGateway) =>
      fetch(on(gateway, acs), {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          SAMLResponse: /name="SAMLResponse" value="([^"]+)"/.exec(page)![1]!,
          // The return path is the one kept at the button, whatever RelayState the form carries.
          RelayState: "/console/approvals",
        }),
      });
    const first = await post(b);
    const session = cookieNamed(first, "latch_console");
    expect(session, decodeURIComponent(first.headers.get("location") ?? "")).toBeDefined();
    expect(first.headers.get("location")).toBe("/console/sessions");
    expect(await me(a, session!)).toMatchObject({
      status: 200,
      body: { subject: "carol", groups: ["saml:auditors"] },
    });

    for (const gateway of [a, b]) {
      const replay = await post(gateway);
      expect(cookieNamed(replay, "latch_console")).toBeUndefined();
      expect(decodeURIComponent(replay.headers.get("location") ?? "")).toMatch(
        /^\/console\/sign-in\?error=this sign-in was already used/,
      );
    }
  });
});
