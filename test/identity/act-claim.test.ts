import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { isLatchError } from "../../src/errors.js";
import { MAX_ACTOR_DEPTH, parseActClaim } from "../../src/identity/act-claim.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import { startOidcProvider, type TestOidcProvider } from "../support/oidc-provider.js";

describe("act claim (RFC 8693 delegation chains)", () => {
  it("reads a nested chain, current actor first", () => {
    expect(
      parseActClaim({ sub: "orchestrator", iss: "https://idp", act: { sub: "subagent-1", extra: 1 } }),
    ).toEqual([{ subject: "orchestrator", issuer: "https://idp" }, { subject: "subagent-1" }]);
    expect(parseActClaim(undefined)).toBeUndefined();
  });

  it("refuses anything malformed, and chains deeper than the cap", () => {
    for (const bad of [
      "agent",
      [],
      null,
      {},
      { sub: "" },
      { sub: 7 },
      { sub: "a\nb" },
      { sub: "a", iss: 1 },
      { sub: "a", act: "b" },
    ]) {
      expect(() => parseActClaim(bad), JSON.stringify(bad)).toThrow(/token rejected/);
    }
    let deep: Record<string, unknown> = { sub: "last" };
    for (let i = 0; i < MAX_ACTOR_DEPTH; i++) deep = { sub: `actor-${i}`, act: deep };
    expect(() => parseActClaim(deep)).toThrow(/deeper than/);
  });
});

describe("delegation with a real OIDC provider", () => {
  let provider: TestOidcProvider;
  let dataDir: string;

  beforeAll(async () => {
    provider = await startOidcProvider();
    dataDir = await mkdtemp(path.join(tmpdir(), "latch-act-"));
  });
  afterAll(async () => {
    await provider?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const verifierFor = (delegation: boolean) =>
    createTokenVerifier(
      configSchema.parse({
        identity: { issuers: [{ issuer: provider.issuer, audience: "latch", delegation }] },
      }).identity,
      { dataDir },
    );

  it("accepts a chain only from an issuer configured for delegation, and policy sees context.actors", async () => {
    const token = await provider.mintTokenWithClaims("alice", {
      groups: ["people"],
      act: { sub: "orchestrator", act: { sub: "subagent-3" } },
    });
    const refused = await verifierFor(false)
      .verify(token)
      .catch((error: unknown) => error);
    expect(isLatchError(refused) && refused.message).toMatch(/delegation: true/);
    const identity = await verifierFor(true).verify(token);
    expect(identity.actors).toEqual([{ subject: "orchestrator" }, { subject: "subagent-3" }]);

    const engine = createCedarPolicyEngine(
      parsePolicySources([
        {
          file: "delegation.cedar",
          text: `
        @id("only-for-people-through-the-orchestrator")
        permit(principal in Group::"people", action == Action::"sql:select", resource in Connection::"app")
        when { context.actors.contains("orchestrator") };
      `,
        },
      ]),
    );
    const ask = (who: typeof identity) =>
      engine.authorize({
        identity: who,
        connection: "app",
        connectionLabels: {},
        steps: [
          {
            text: "SELECT 1",
            action: "sql:select",
            accesses: [{ action: "sql:select", resource: { type: "Connection" } }],
            facts: { readOnly: true, hasWhere: true, tableCount: 0, command: "" },
          },
        ],
        clientAddress: "127.0.0.1",
        now: new Date(),
      }).decision;
    expect(ask(identity)).toBe("allow");
    // The same person without the orchestrator in the chain: a different cache key and a different answer.
    const { actors: _, ...direct } = identity;
    expect(ask({ ...direct })).toBe("deny");
  });
});
