import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadOrCreateHostKey } from "../../src/protocols/ssh/host-key.js";
import { type OpenSshClient, openSshClient } from "../support/openssh-client.js";
import { SSHD_USER, startSshd, type TestSshd } from "../support/sshd.js";
import { startTestGateway, type TestGateway } from "../support/test-gateway.js";

/**
 * The administrator's and the lifetime controls reach SSH sessions as they reach PostgreSQL ones: one session
 * layer for every protocol. Driven with the real OpenSSH client, stdin closed (`ssh -n`), as jobs run it.
 */

const POLICY = `
permit(principal in Group::"ops", action == Action::"ssh:exec", resource)
when { context.command like "sleep *" || context.command like "echo *" };
@approval("dba")
permit(principal in Group::"ops", action == Action::"ssh:exec", resource in Connection::"web-1")
when { context.command like "touch *" };
`;

let sshd: TestSshd;
let gw: TestGateway;
let adminToken: string;

beforeAll(async () => {
  sshd = await startSshd();
  const ssh = (extra: Record<string, unknown> = {}) => ({
    type: "ssh",
    upstream: `ssh://${SSHD_USER}@127.0.0.1:${sshd.port}`,
    private_key: { file: sshd.userKeyFile },
    host_key: sshd.hostKeyLine,
    ...extra,
  });
  gw = await startTestGateway(undefined, {
    policy: POLICY,
    overrides: {
      listen: { admin: "127.0.0.1:0", ssh: "127.0.0.1:0" },
      identity: { dev_issuer: true, admin_groups: ["admins"] },
      connections: { "web-1": ssh(), "web-idle": ssh({ idle_timeout: "1s" }) },
    },
  });
  adminToken = await gw.token("root-admin", ["admins", "dba"]);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
});

async function client(subject: string, ttlSeconds = 600): Promise<OpenSshClient> {
  const port = gw.gateway.sshAddress?.port;
  if (port === undefined) throw new Error("no SSH listener");
  return openSshClient({
    dir: gw.dataDir,
    port,
    hostKeyLine: loadOrCreateHostKey(gw.dataDir).publicLine,
    token: await gw.token(subject, ["ops"], ttlSeconds),
  });
}

/** Waits (polling the registry, not the clock) until `subject` has a live SSH session; returns its id. */
async function liveSessionOf(subject: string): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const found = gw.gateway.sessions.list().find((s) => s.subject === subject && s.protocol === "ssh");
    if (found !== undefined) return found.id;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no live SSH session of ${subject}`);
}

/** Waits until `subject`'s command was admitted (its operation is on record): the session is in full use. */
async function runningCommandOf(subject: string): Promise<string> {
  const id = await liveSessionOf(subject);
  for (let attempt = 0; attempt < 200; attempt++) {
    await gw.gateway.flushAudit();
    const events = await gw.gateway.audit.events({ sessionId: id, limit: 50 });
    // Allowed at once, or held and then released by an approval.
    const admitted = (event: (typeof events)[number]) =>
      event.kind === "approval_released" ||
      (event.kind === "operation" &&
        (event.data as { verdict: { decision: string } }).verdict.decision === "allow");
    if (events.some(admitted)) return id;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${subject}'s command never ran`);
}

async function admin(method: string, route: string, body?: unknown): Promise<Response> {
  return fetch(`${gw.adminUrl}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

describe("session controls over SSH", () => {
  it("opens only the listeners of configured connection types (no postgres connection, no postgres port)", () => {
    expect([...gw.gateway.listeners.keys()]).toEqual(["ssh"]);
    expect(() => gw.gateway.postgresAddress).toThrow(/configure a connection of type postgres/);
  });

  it("a blocked principal's live SSH session ends, and it cannot log in again", async () => {
    const ssh = await client("blocked-bot");
    const running = ssh.run("web-1", "sleep 30");
    await runningCommandOf("blocked-bot");
    const blocked = await admin("POST", "/api/principals/blocked-bot/block", { reason: "test" });
    expect(blocked.status).toBe(200);
    expect(((await blocked.json()) as { sessionsEnded: string[] }).sessionsEnded).toHaveLength(1);
    const ended = await running;
    expect(ended.hung).toBe(false);
    expect(ended.code).not.toBe(0);
    expect(ended.stderr).toContain("latch: principal is blocked on this gateway");

    const again = await ssh.run("web-1", "echo should-not-run");
    expect(again.hung).toBe(false);
    expect(again.code).toBe(255);
    expect(again.stdout).not.toContain("should-not-run");
    await gw.gateway.flushAudit();
    const failures = (await gw.gateway.audit.events({ kind: "auth_failure", limit: 100 })).map(
      (event) => event.data as { protocol: string; subject?: string; code: string },
    );
    expect(failures).toContainEqual(
      expect.objectContaining({ protocol: "ssh", subject: "blocked-bot", code: "principal_blocked" }),
    );
  });

  it("latch sessions kill ends a live SSH session with the reason", async () => {
    const ssh = await client("killed-bot");
    const running = ssh.run("web-1", "sleep 30");
    const id = await runningCommandOf("killed-bot");
    const live = (await (await admin("GET", "/api/sessions/live")).json()) as {
      sessions: { id: string; protocol: string; subject: string }[];
    };
    expect(live.sessions).toContainEqual(
      expect.objectContaining({ id, protocol: "ssh", subject: "killed-bot" }),
    );
    expect((await admin("DELETE", `/api/sessions/${id}`)).status).toBe(200);
    const ended = await running;
    expect(ended.hung).toBe(false);
    expect(ended.stderr).toContain(
      "session terminated by the gateway: session terminated by an administrator",
    );
    expect(gw.gateway.sessions.get(id)).toBeUndefined();
  });

  it("revoking the grant that released a command ends the SSH session that used it", async () => {
    const ssh = await client("granted-bot");
    const running = ssh.run("web-1", "touch /tmp/latch-grant-test && sleep 30");
    let requestId: string | undefined;
    for (let attempt = 0; attempt < 200 && requestId === undefined; attempt++) {
      const listed = (await (await admin("GET", "/api/requests?state=pending")).json()) as {
        requests: { id: string; requester: string }[];
      };
      requestId = listed.requests.find((r) => r.requester === "granted-bot")?.id;
      if (requestId === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(requestId).toBeDefined();
    const approved = await admin("POST", `/api/requests/${requestId}/approve`, { reason: "ok", for: "30m" });
    expect(approved.status).toBe(200);
    const { grantId } = ((await approved.json()) as { request: { grantId: string } }).request;
    expect(grantId).toMatch(/^grt_/);
    await runningCommandOf("granted-bot");
    expect((await admin("DELETE", `/api/grants/${grantId}`, { reason: "done" })).status).toBe(200);
    const ended = await running;
    expect(ended.hung).toBe(false);
    expect(ended.stderr).toContain("waiting for approval");
    expect(ended.stderr).toContain(`request ${requestId}`);
    expect(ended.stderr).toContain(`grant ${grantId} was revoked`);
  });

  it("a held SSH command is abandoned when its client goes away, and can never run", async () => {
    const ssh = await client("leaving-bot");
    const kill = new AbortController();
    const running = ssh.run("web-1", "touch /tmp/latch-abandoned-test", { signal: kill.signal });
    let requestId: string | undefined;
    for (let attempt = 0; attempt < 200 && requestId === undefined; attempt++) {
      const listed = (await (await admin("GET", "/api/requests?state=pending")).json()) as {
        requests: { id: string; requester: string }[];
      };
      requestId = listed.requests.find((r) => r.requester === "leaving-bot")?.id;
      if (requestId === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(requestId).toBeDefined();
    kill.abort();
    await running;
    let state = "pending";
    for (let attempt = 0; attempt < 200 && state === "pending"; attempt++) {
      const shown = (await (await admin("GET", `/api/requests/${requestId}`)).json()) as {
        request: { state: string };
      };
      state = shown.request.state;
      if (state === "pending") await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(state).toBe("abandoned");
    const late = await admin("POST", `/api/requests/${requestId}/approve`, { reason: "too late" });
    expect(late.status).toBe(409);
  });

  it("an SSH session does not outlive its token", async () => {
    const ssh = await client("short-lived-bot", 3);
    const ended = await ssh.run("web-1", "sleep 30");
    expect(ended.hung).toBe(false);
    expect(ended.stderr).toContain("the token this session was opened with has expired");
  });

  it("idle_timeout ends a silent SSH session", async () => {
    const ssh = await client("idle-bot");
    const ended = await ssh.run("web-idle", "sleep 30");
    expect(ended.hung).toBe(false);
    expect(ended.stderr).toContain("idle for longer than the connection's idle timeout (1s)");
  });

  it("a policy reload that now denies what a live SSH session did ends it", async () => {
    const ssh = await client("reload-bot");
    const running = ssh.run("web-1", "sleep 30");
    await runningCommandOf("reload-bot");
    const policyFile = path.join(gw.dataDir, "policies", "test.cedar");
    writeFileSync(
      policyFile,
      `${POLICY}\nforbid(principal, action == Action::"ssh:exec", resource) when { context.command like "sleep *" };\n`,
    );
    try {
      const reloaded = await admin("POST", "/api/policies/reload");
      expect(reloaded.status).toBe(200);
      expect(((await reloaded.json()) as { sessionsEnded: number }).sessionsEnded).toBeGreaterThanOrEqual(1);
      const ended = await running;
      expect(ended.hung).toBe(false);
      expect(ended.stderr).toContain("policies were reloaded and now deny it");
    } finally {
      writeFileSync(policyFile, POLICY);
      await admin("POST", "/api/policies/reload");
    }
  });
});
