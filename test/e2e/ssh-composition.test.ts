import { Client } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exec } from "../ssh/ssh-test-gateway.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";
import { SSHD_USER, startSshd, type TestSshd } from "../support/sshd.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

// The full gateway (start-gateway.ts) serving PostgreSQL and SSH side by side, one policy set, one audit log.
let sshd: TestSshd;
let cluster: PgCluster;
let gw: TestGateway;

beforeAll(async () => {
  sshd = await startSshd();
  cluster = await startPgCluster({ auth: "scram-sha-256" });
  const keyFile = sshd.userKeyFile;
  gw = await startTestGateway(cluster, {
    policy: `
permit(principal in Group::"ops", action == Action::"ssh:exec", resource in Connection::"web-1")
when { context.command like "echo *" };
@approval("dba")
permit(principal in Group::"ops", action == Action::"ssh:exec", resource in Connection::"web-1")
when { context.command like "touch *" };
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");`,
    overrides: {
      masking: { pii: { detectors: ["credit_card", "us_ssn"] } },
      listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0", ssh: "127.0.0.1:0" },
      connections: {
        app: {
          type: "postgres",
          upstream: `postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}`,
          password: { env: `LATCH_TEST_PW_${cluster.port}` },
        },
        "web-1": {
          type: "ssh",
          upstream: `ssh://${SSHD_USER}@127.0.0.1:${sshd.port}`,
          private_key: { file: keyFile },
          host_key: sshd.hostKeyLine,
          masking: ["pii"],
        },
      },
    },
  });
});
afterAll(async () => {
  await gw?.stop();
  await cluster?.stop();
  await sshd?.stop();
});

function connect(port: number, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client.once("ready", () => resolve(client)).once("error", reject);
    client.connect({
      host: "127.0.0.1",
      port,
      username: "web-1",
      password: token,
      hostVerifier: () => true,
      readyTimeout: 10_000,
    });
  });
}

async function pendingRequestId(adminToken: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await fetch(`${gw.adminUrl}/api/requests?state=pending`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const { requests } = (await response.json()) as { requests: { id: string }[] };
    if (requests[0] !== undefined) return requests[0].id;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no pending request appeared");
}

describe("one gateway, two protocols", () => {
  it("masks sensitive values in the recording of SSH output", async () => {
    const client = await connect(gw.gateway.sshAddress!.port, await gw.token("deployer", ["ops"]));
    const result = await exec(client, "echo card 4242 4242 4242 4242 ssn 123-45-6789");
    client.end();
    expect(result.code).toBe(0);
    await gw.gateway.flushAudit();
    // Output events only: the command line itself is what the caller typed, recorded as its operation.
    const recorded = (await gw.gateway.audit.events({ kind: "session_recording", limit: 1000 }))
      .flatMap((event) => (event.data as { events: [number, string, string][] }).events)
      .filter(([, type]) => type === "o")
      .map(([, , text]) => text)
      .join("");
    expect(recorded).toMatch(/card \*{4} \*{4} \*{4} 4242/);
    expect(recorded).not.toContain("4242 4242 4242 4242");
    expect(recorded).not.toContain("123-45-6789");
  });

  it("holds an SSH command that needs approval and runs it once a dba approves", async () => {
    const client = await connect(gw.gateway.sshAddress!.port, await gw.token("deployer", ["ops"]));
    const running = exec(client, "touch /tmp/latch-approved-$$ && echo approved-run");
    const approver = await gw.token("dana", ["dba"]);
    const id = await pendingRequestId(approver);
    const answer = await fetch(`${gw.adminUrl}/api/requests/${id}/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${approver}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "looks fine" }),
    });
    expect(answer.status).toBe(200);
    const result = await running;
    client.end();
    expect(result.stderr).toMatch(/waiting for approval/);
    expect(result.stdout.trim()).toBe("approved-run");
    expect(result.code).toBe(0);
  });

  it("runs an allowed SSH command and denies another with 126, recorded in the same chain as SQL", async () => {
    const sshPort = gw.gateway.sshAddress?.port;
    expect(sshPort).toBeGreaterThan(0);
    const client = await connect(sshPort!, await gw.token("deployer", ["ops"]));
    const allowed = await exec(client, "echo hello-from-latch");
    expect(allowed.stdout.trim()).toBe("hello-from-latch");
    expect(allowed.code).toBe(0);
    const denied = await exec(client, "cat /etc/shadow");
    expect(denied.code).toBe(126);
    expect(denied.stderr).toMatch(/denied by Latch policy/);
    client.end();
    const pg = await gw.connect(await gw.token("ci-bot", ["agents"]));
    await pg.query("SELECT 1");
    await pg.end();
    await gw.gateway.flushAudit();
    const operations = await gw.gateway.audit.events({ kind: "operation", limit: 100 });
    const verbs = operations.map((e) => (e.data as { statements: { verb: string }[] }).statements[0]?.verb);
    expect(verbs).toContain("ssh:exec");
    expect(verbs).toContain("sql:select");
    expect((await gw.gateway.audit.verifyChain()).ok).toBe(true);
  });
});
