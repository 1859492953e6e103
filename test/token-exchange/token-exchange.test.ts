import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayFixture, startGatewayFixture } from "../e2e/pg-fixture.js";
import { startOidcProvider, type TestOidcProvider } from "../support/oidc-provider.js";
import { startSamlIdp, type TestSamlIdp } from "../support/saml-idp.js";
import { TEST_POLICY } from "../support/test-gateway.js";

// RFC 8693 token exchange end to end: a real signed SAML assertion (the browser tests' IdP substitute, RSA-SHA256
// with xml-crypto) and real JWTs from oidc-provider go in; the Latch token that comes out is used by real psql
// against a real PostgreSQL through the gateway.
const run = promisify(execFile);
const ISSUER = "https://latch.test";
const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;
const SP_ENTITY = `${ISSUER}/console/auth/saml/idp/metadata`;
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const SAML2 = "urn:ietf:params:oauth:token-type:saml2";
const JWT = "urn:ietf:params:oauth:token-type:jwt";

let fx: GatewayFixture;
let idp: TestSamlIdp;
let oidc: TestOidcProvider;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "latch-exchange-"));
  [idp, oidc] = await Promise.all([startSamlIdp(dir), startOidcProvider()]);
  fx = await startGatewayFixture({
    policy: `${TEST_POLICY}
@id("agents-update-approved") @approval("dba")
permit(principal in Group::"agents", action == Action::"sql:update", resource in Connection::"app");`,
    overrides: {
      identity: {
        dev_issuer: true,
        issuers: [{ issuer: oidc.issuer, audience: "latch", delegation: true, subject_prefix: "oidc:" }],
        token_exchange: {
          enabled: true,
          issuer: ISSUER,
          lifetime: "5m",
          accept: { saml: ["idp"] },
          max_failures_per_minute: 1000,
        },
      },
      console: {
        cookie_secure: false,
        saml: [
          {
            id: "idp",
            name: "Test IdP",
            entry_point: idp.ssoUrl,
            idp_issuer: idp.entityId,
            idp_cert_file: idp.certFile,
            subject_prefix: "saml:",
          },
        ],
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await fx?.stop();
  await idp?.close();
  await oidc?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const b64url = (xml: string) => Buffer.from(xml).toString("base64url");
const exchange = async (params: Record<string, string | string[]>) => {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    for (const one of Array.isArray(value) ? value : [value]) form.append(name, one);
  const response = await fetch(`${fx.gw.adminUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    body: JSON.parse(text) as Record<string, unknown>,
  };
};
const samlExchange = (assertion: string) =>
  exchange({ grant_type: GRANT, subject_token: b64url(assertion), subject_token_type: SAML2 });
const goodAssertion = (nameId = "subagent-7", groups: readonly string[] = ["agents"]) =>
  idp.assertion({ nameId, groups, audience: SP_ENTITY, recipient: TOKEN_ENDPOINT });
const psql = (token: string, sql: string) =>
  run("psql", [fx.gw.conninfo(), "-At", "-c", sql], {
    env: { ...process.env, PGPASSWORD: token, PGCONNECT_TIMEOUT: "10" },
  });

describe("token exchange: SAML assertion in, Latch token out", () => {
  it("publishes its issuer and keys, and the issued token verifies against them", async () => {
    const discovery = (await (
      await fetch(`${fx.gw.adminUrl}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({
      issuer: ISSUER,
      token_endpoint: TOKEN_ENDPOINT,
      grant_types_supported: [GRANT],
    });
    const jwks = (await (await fetch(`${fx.gw.adminUrl}/.well-known/jwks.json`)).json()) as {
      keys: object[];
    };
    expect(jwks.keys).toHaveLength(1);
    expect(JSON.stringify(jwks)).not.toMatch(/"d":/);

    const answer = await samlExchange(goodAssertion());
    expect(answer.status).toBe(200);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    expect(answer.body).toMatchObject({
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      token_type: "Bearer",
    });
    expect(answer.body.expires_in).toBeGreaterThan(200);
    expect(answer.body.expires_in).toBeLessThanOrEqual(300);
    const { payload, protectedHeader } = await jwtVerify(
      answer.body.access_token as string,
      createLocalJWKSet(jwks as never),
      { issuer: ISSUER, audience: "latch" },
    );
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload).toMatchObject({ sub: "saml:subagent-7", groups: ["agents"] });
    expect(payload.act).toBeUndefined();
  });

  it("the exchanged token opens a psql session as the assertion's subject, with its groups", async () => {
    const answer = await samlExchange(goodAssertion("psql-agent", ["agents"]));
    expect(answer.status).toBe(200);
    const { stdout } = await psql(answer.body.access_token as string, "SELECT count(*) FROM items");
    expect(stdout.trim()).toBe("20");
    await fx.gw.gateway.flushAudit();
    const starts = await fx.gw.gateway.audit.events({
      kind: "session_start",
      subject: "saml:psql-agent",
      limit: 10,
    });
    expect(starts.length).toBe(1);
    // A group the assertion did not carry gets nothing: writes stay denied.
    const denied = await psql(answer.body.access_token as string, "DELETE FROM items").catch(
      (error: unknown) => error,
    );
    expect(String((denied as { stderr?: string }).stderr)).toMatch(/denied|42501/i);
  }, 60_000);

  it("never lets a token outlive the assertion it came from", async () => {
    const short = idp.assertion({
      nameId: "short-lived",
      groups: ["agents"],
      audience: SP_ENTITY,
      recipient: TOKEN_ENDPOINT,
      validForMs: 40_000,
    });
    const answer = await samlExchange(short);
    expect(answer.status).toBe(200);
    expect(answer.body.expires_in).toBeLessThanOrEqual(40);
  });

  const refusals: Array<[string, () => string, RegExp]> = [
    [
      "forged (NameID changed after signing)",
      () => goodAssertion("honest").replace(">honest<", ">root-admin<"),
      /invalid signature/i,
    ],
    [
      "unsigned",
      () =>
        idp.assertion({
          nameId: "x",
          groups: ["agents"],
          audience: SP_ENTITY,
          recipient: TOKEN_ENDPOINT,
          unsigned: true,
        }),
      /signature/i,
    ],
    [
      "for another audience",
      () =>
        idp.assertion({
          nameId: "x",
          groups: [],
          audience: "https://other.example/sp",
          recipient: TOKEN_ENDPOINT,
        }),
      /audience/i,
    ],
    [
      "addressed to another recipient",
      () =>
        idp.assertion({
          nameId: "x",
          groups: [],
          audience: SP_ENTITY,
          recipient: "https://other.example/acs",
        }),
      /Recipient/,
    ],
    [
      "expired",
      () =>
        idp.assertion({
          nameId: "x",
          groups: [],
          audience: SP_ENTITY,
          recipient: TOKEN_ENDPOINT,
          issuedAgoMs: 20 * 60_000,
          validForMs: 5 * 60_000,
        }),
      /expired|too old|NotOnOrAfter/i,
    ],
  ];
  for (const [what, make, reason] of refusals) {
    it(`refuses an assertion ${what} with invalid_request, never echoing it`, async () => {
      const assertion = make();
      const answer = await samlExchange(assertion);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe("invalid_request");
      expect(answer.body.error_description).toMatch(reason);
      expect(answer.text).not.toContain(b64url(assertion).slice(0, 40));
    });
  }

  it("refuses a replayed assertion", async () => {
    const assertion = goodAssertion("replayer");
    expect((await samlExchange(assertion)).status).toBe(200);
    const again = await samlExchange(assertion);
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: "invalid_request" });
    expect(again.body.error_description).toMatch(/already used/);
  });

  it("answers the RFC 6749 errors for a wrong grant, a missing token and a foreign audience", async () => {
    const wrongGrant = await exchange({
      grant_type: "client_credentials",
      subject_token: "x",
      subject_token_type: SAML2,
    });
    expect(wrongGrant).toMatchObject({ status: 400, body: { error: "unsupported_grant_type" } });
    expect((await exchange({ grant_type: GRANT, subject_token_type: SAML2 })).body.error).toBe(
      "invalid_request",
    );
    const repeated = await exchange({
      grant_type: GRANT,
      subject_token: ["a", "b"],
      subject_token_type: SAML2,
    });
    expect(repeated.body.error).toBe("invalid_request");
    const foreign = await exchange({
      grant_type: GRANT,
      subject_token: b64url(goodAssertion()),
      subject_token_type: SAML2,
      audience: "billing",
    });
    expect(foreign).toMatchObject({ status: 400, body: { error: "invalid_target" } });
    const json = await fetch(`${fx.gw.adminUrl}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: GRANT }),
    });
    expect(json.status).toBe(400);
  });
});

describe("token exchange: a JWT with an actor token (delegation)", () => {
  it("builds the act chain, and the recorded session shows it", async () => {
    const subjectToken = await oidc.mintToken("orchestrator-user", ["agents"]);
    const actorToken = await oidc.mintToken("subagent-bot", []);
    const answer = await exchange({
      grant_type: GRANT,
      subject_token: subjectToken,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      actor_token: actorToken,
      actor_token_type: JWT,
      audience: "latch",
    });
    expect(answer.status).toBe(200);
    const issued = answer.body.access_token as string;
    const claims = decodeJwt(issued);
    expect(claims).toMatchObject({
      sub: "oidc:orchestrator-user",
      act: { sub: "oidc:subagent-bot", iss: oidc.issuer },
    });
    expect(claims.exp).toBeLessThanOrEqual(decodeJwt(subjectToken).exp as number);

    // Exchanged again by a further actor: the new actor outermost, the earlier one nested.
    const actor2 = await oidc.mintToken("sub-subagent", []);
    const twice = await exchange({
      grant_type: GRANT,
      subject_token: issued,
      subject_token_type: JWT,
      actor_token: actor2,
      actor_token_type: JWT,
    });
    expect(twice.status).toBe(200);
    expect(decodeJwt(twice.body.access_token as string).act).toEqual({
      sub: "oidc:sub-subagent",
      iss: oidc.issuer,
      act: { sub: "oidc:subagent-bot", iss: oidc.issuer },
    });

    const { stdout } = await psql(twice.body.access_token as string, "SELECT count(*) FROM items");
    expect(stdout.trim()).toBe("20");
    await fx.gw.gateway.flushAudit();
    const [start] = await fx.gw.gateway.audit.events({
      kind: "session_start",
      subject: "oidc:orchestrator-user",
      limit: 10,
    });
    expect(start?.data.actors).toEqual([
      { subject: "oidc:sub-subagent", issuer: oidc.issuer },
      { subject: "oidc:subagent-bot", issuer: oidc.issuer },
    ]);

    // Asking for approval with it: the approvals API (and so the console inbox) shows who acts for whom.
    const asked = await fetch(`${fx.gw.adminUrl}/api/requests`, {
      method: "POST",
      headers: { authorization: `Bearer ${twice.body.access_token}`, "content-type": "application/json" },
      body: JSON.stringify({
        connection: "app",
        actions: ["sql:update"],
        resources: ["public.items"],
        reason: "fix",
      }),
    });
    expect(asked.status).toBe(201);
    const { request } = (await asked.json()) as { request: { id: string } };
    const dba = await fx.gw.token("dana", ["dba"]);
    const seen = (await (
      await fetch(`${fx.gw.adminUrl}/api/requests/${request.id}`, {
        headers: { authorization: `Bearer ${dba}` },
      })
    ).json()) as { request: { requester: string; actors: unknown } };
    expect(seen.request).toMatchObject({
      requester: "oidc:orchestrator-user",
      actors: [
        { subject: "oidc:sub-subagent", issuer: oidc.issuer },
        { subject: "oidc:subagent-bot", issuer: oidc.issuer },
      ],
    });
  }, 60_000);

  it("refuses an actor token without its type, and a forged subject JWT", async () => {
    const subjectToken = await oidc.mintToken("u", ["agents"]);
    const noType = await exchange({
      grant_type: GRANT,
      subject_token: subjectToken,
      subject_token_type: JWT,
      actor_token: subjectToken,
    });
    expect(noType.body.error).toBe("invalid_request");
    const [h, p, s] = subjectToken.split(".") as [string, string, string];
    const forged = await exchange({
      grant_type: GRANT,
      subject_token: `${h}.${p}.${s.startsWith("A") ? "B" : "A"}${s.slice(1)}`,
      subject_token_type: JWT,
    });
    expect(forged.body).toMatchObject({ error: "invalid_request" });
    expect(forged.body.error_description).toMatch(/signature/);
    expect(forged.text).not.toContain(p);
  });

  it("records every exchange, issued and refused, without any token", async () => {
    await fx.gw.gateway.flushAudit();
    const events = await fx.gw.gateway.audit.events({ kind: "token_exchange" as never, limit: 1000 });
    const outcomes = new Set(events.map((event) => event.data.outcome));
    expect(outcomes).toEqual(new Set(["issued", "refused"]));
    const issued = events.find((event) => event.data.subject === "oidc:orchestrator-user");
    expect(issued?.data).toMatchObject({ outcome: "issued", groups: ["agents"], subjectSource: oidc.issuer });
    expect(JSON.stringify(events)).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
    expect(JSON.stringify(events)).not.toMatch(/PHNhbWw|Assertion/);
  });
});
