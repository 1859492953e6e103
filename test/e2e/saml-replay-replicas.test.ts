import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SamlReplicas, startSamlReplicas } from "../support/saml-replicas.js";
import type { TestGateway } from "../support/test-gateway.js";

// Two gateways on one PostgreSQL store: a SAML assertion exchanged (RFC 8693) through one is refused through the
// other, because the used assertion ids are kept in the store, not in either process. A store that cannot answer
// the replay check refuses the assertion (fail closed) and the refusal is audited.
const ISSUER = "https://latch.test";
const TOKEN_ENDPOINT = `${ISSUER}/oauth/token`;
const SP_ENTITY = `${ISSUER}/console/auth/saml/idp/metadata`;
const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const SAML2 = "urn:ietf:params:oauth:token-type:saml2";

let replicas: SamlReplicas;

beforeAll(async () => {
  replicas = await startSamlReplicas({
    scratchPrefix: "latch-saml-replay-",
    identity: (scratch) => {
      // A shared store needs one signing key for every replica.
      const keyFile = path.join(scratch, "latch-signing.pem");
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
      return {
        dev_issuer: true,
        token_exchange: {
          enabled: true,
          issuer: ISSUER,
          lifetime: "5m",
          signing_key: { file: keyFile },
          accept: { saml: ["idp"] },
          max_failures_per_minute: 1000,
        },
      };
    },
    saml: { subject_prefix: "saml:" },
  });
}, 180_000);

afterAll(() => replicas?.stop());

const exchangeThrough = async (gateway: TestGateway, assertion: string) => {
  const response = await fetch(`${gateway.adminUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: GRANT,
      subject_token: Buffer.from(assertion).toString("base64url"),
      subject_token_type: SAML2,
    }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const assertionFor = (nameId: string) =>
  replicas.idp.assertion({ nameId, groups: ["agents"], audience: SP_ENTITY, recipient: TOKEN_ENDPOINT });

const storeQuery = (sql: string) => replicas.storeQuery(sql);

describe("SAML assertion replay on a shared store", () => {
  it("an assertion exchanged through one replica is refused through the other", async () => {
    const [a, b] = replicas.gateways;
    const assertion = assertionFor("subagent-1");
    const first = await exchangeThrough(a, assertion);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const again = await exchangeThrough(b, assertion);
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: "invalid_request" });
    expect(again.body.error_description).toMatch(/already used/);
    // And through the first replica too (its own process never held the id).
    expect((await exchangeThrough(a, assertion)).body.error_description).toMatch(/already used/);

    // The store keeps a hash of the ID, never the ID itself.
    const id = /<(?:\w+:)?Assertion[^>]*\sID="([^"]+)"/.exec(assertion)![1]!;
    const rows = await storeQuery("SELECT issuer, id_hash FROM latch_saml_assertion_claims");
    expect(rows).toContainEqual(expect.objectContaining({ issuer: replicas.idp.entityId }));
    expect(JSON.stringify(rows)).not.toContain(id);
  });

  it("refuses an assertion when the store cannot check it for replay, and audits the refusal", async () => {
    const [, b] = replicas.gateways;
    await storeQuery("ALTER TABLE latch_saml_assertion_claims RENAME TO latch_saml_claims_gone");
    try {
      const refused = await exchangeThrough(b, assertionFor("subagent-2"));
      expect(refused.status).toBe(503);
      expect(refused.body.error).toBe("temporarily_unavailable");
      expect(refused.body.error_description).toMatch(/could not be reached.*replay/);
    } finally {
      await storeQuery("ALTER TABLE latch_saml_claims_gone RENAME TO latch_saml_assertion_claims");
    }
    await b.gateway.flushAudit();
    const events = await b.gateway.audit.events({ kind: "token_exchange" as never, limit: 1000 });
    expect(events.map((event) => event.data)).toContainEqual(
      expect.objectContaining({ outcome: "refused", reason: expect.stringMatching(/could not be reached/) }),
    );
    // Once the store answers again, a fresh assertion is exchanged.
    expect((await exchangeThrough(b, assertionFor("subagent-3"))).status).toBe(200);
  });
});
