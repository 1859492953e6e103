import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SamlReplicas, startSamlReplicas } from "../support/saml-replicas.js";
import type { TestGateway } from "../support/test-gateway.js";

// Two gateways on one PostgreSQL store: a console sign-in made through one is accepted by the other (the store
// keeps it, as a hash of the cookie's id), and a sign-out through either ends it on both.
let replicas: SamlReplicas;

beforeAll(async () => {
  replicas = await startSamlReplicas({
    scratchPrefix: "latch-console-replicas-",
    identity: () => ({ dev_issuer: true, auditor_groups: ["saml:auditors"] }),
    saml: { group_prefix: "saml:" },
  });
}, 120_000);

afterAll(() => replicas?.stop());

/** A real SAML round trip through `gateway`'s SP; resolves the console cookie it set. */
async function signIn(gateway: TestGateway): Promise<string> {
  const login = await fetch(`${gateway.adminUrl}/console/auth/saml/idp/login`, { redirect: "manual" });
  const page = await (await fetch(login.headers.get("location")!)).text();
  const acs = await fetch(`${gateway.adminUrl}/console/auth/saml/idp/acs`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      SAMLResponse: /name="SAMLResponse" value="([^"]+)"/.exec(page)![1]!,
      RelayState: /name="RelayState" value="([^"]*)"/.exec(page)![1]!,
    }),
  });
  const line = acs.headers
    .getSetCookie()
    .find((set) => set.startsWith("latch_console=") && !set.includes("Max-Age=0"));
  expect(line, decodeURIComponent(acs.headers.get("location") ?? "")).toBeDefined();
  return line!.split(";")[0]!;
}

const me = (gateway: TestGateway, cookie: string) =>
  fetch(`${gateway.adminUrl}/api/me`, { headers: { cookie } });

describe("console sign-ins on a shared store", () => {
  it("a sign-in through one replica is accepted by the other, and a sign-out through it ends both", async () => {
    const [a, b] = replicas.gateways;
    replicas.idp.signInAs("carol", ["auditors"]);
    const cookie = await signIn(a);
    const onB = await me(b, cookie);
    expect(onB.status).toBe(200);
    const who = (await onB.json()) as { subject: string; groups: string[]; via: string; csrf: string };
    expect(who).toMatchObject({ subject: "carol", groups: ["saml:auditors"], via: "cookie" });
    // The role it carries works there too (auditors read sessions).
    expect((await fetch(`${b.adminUrl}/api/sessions`, { headers: { cookie } })).status).toBe(200);
    // The CSRF token is the same on both: derived from the cookie, not kept per process.
    expect(((await (await me(a, cookie)).json()) as { csrf: string }).csrf).toBe(who.csrf);

    // The store holds only a hash of the cookie's id.
    const id = cookie.split("=")[1]!;
    const rows = await replicas.storeQuery(
      "SELECT id_hash, identity::text AS identity FROM latch_console_sessions",
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(id);

    const out = await fetch(`${b.adminUrl}/console/auth/logout`, {
      method: "POST",
      headers: { cookie, "x-csrf-token": who.csrf },
    });
    expect(out.status).toBe(200);
    expect((await me(a, cookie)).status).toBe(401);
    expect((await me(b, cookie)).status).toBe(401);
  });
});
