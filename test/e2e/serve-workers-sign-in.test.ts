import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReplicaSet, type Replica, type ReplicaSet } from "../support/latch-replicas.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { startSamlIdp, type TestSamlIdp } from "../support/saml-idp.js";

/**
 * Console SAML sign-in through compiled `latch serve --workers 2` on a PostgreSQL store. Every request goes on a
 * connection of its own, which the primary hands to the workers in turn, so the IdP's POST back usually reaches
 * the other worker than the one that issued the AuthnRequest: every sign-in must still succeed, because the
 * request id is in the store, not in that worker's memory.
 */
let cluster: PgCluster;
let set: ReplicaSet;
let gateway: Replica;
let idp: TestSamlIdp;
let scratch: string;
let log = "";

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), "latch-workers-sign-in-"));
  [cluster, idp] = await Promise.all([startPgCluster({ auth: "scram-sha-256" }), startSamlIdp(scratch)]);
  set = await createReplicaSet(cluster, {
    policy: "permit(principal, action, resource) when { false };\n",
    console: {
      cookie_secure: false,
      saml: [
        {
          id: "idp",
          name: "IdP",
          entry_point: idp.ssoUrl,
          idp_issuer: idp.entityId,
          idp_cert_file: idp.certFile,
        },
      ],
    },
  });
  gateway = await set.add("workers");
  await gateway.start({
    args: ["--workers", "2"],
    ready: "2 workers serving",
    timeoutMs: 60_000,
    onStderr: (text) => {
      log += text;
    },
  });
}, 120_000);

afterAll(async () => {
  await set?.stop();
  await idp?.close();
  await cluster?.stop();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

/** One request on a connection of its own (no keep-alive: the primary picks a worker per connection). */
function request(
  url: string,
  options: { method?: string; body?: string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = http.request(
      url,
      {
        method: options.method ?? "GET",
        agent: false,
        headers: options.body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" },
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          body += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      },
    );
    sent.on("error", reject);
    sent.end(options.body);
  });
}

describe("console sign-in with latch serve --workers 2", () => {
  it("every sign-in finishes, whichever worker the IdP's POST reaches", async () => {
    const outcomes: string[] = [];
    const requestIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      idp.signInAs(`person-${i}`, ["staff"]);
      const login = await request(`${gateway.adminUrl}/console/auth/saml/idp/login`);
      expect(login.status).toBe(302);
      const page = await (await fetch(String(login.headers.location))).text();
      const response = /name="SAMLResponse" value="([^"]+)"/.exec(page)![1]!;
      requestIds.push(/InResponseTo="([^"]+)"/.exec(Buffer.from(response, "base64").toString("utf8"))![1]!);
      const acs = await request(`${gateway.adminUrl}/console/auth/saml/idp/acs`, {
        method: "POST",
        body: new URLSearchParams({
          SAMLResponse: response,
          RelayState: /name="RelayState" value="([^"]*)"/.exec(page)![1]!,
        }).toString(),
      });
      const signedIn = [acs.headers["set-cookie"] ?? []]
        .flat()
        .some((line) => line.startsWith("latch_console=") && !line.includes("Max-Age=0"));
      outcomes.push(signedIn ? "signed in" : decodeURIComponent(String(acs.headers.location)));
    }
    expect(outcomes).toEqual(Array(6).fill("signed in"));
    // The workers logged (the log is captured), but never a sign-in's request id.
    expect(log).toContain("2 workers serving");
    for (const id of requestIds) expect(log).not.toContain(id);
  });
});
