import { describe, expect, it } from "vitest";
import { type ConnectionConfig, connectionSchema } from "../../src/config/schema.js";
import type { CredentialProvider, CredentialSubject } from "../../src/credentials/credential-provider.js";
import { LatchError } from "../../src/errors.js";
import type { Identity, TokenVerifier } from "../../src/identity/identity.js";
import { createMetrics, type Metrics } from "../../src/observability/metrics.js";
import { type GateRequest, SessionGate } from "../../src/session/session-gate.js";
import { SessionRegistry } from "../../src/session/session-registry.js";
import type { AuditEventInput } from "../../src/store/store.js";
import { FakeClock } from "../support/fake-clock.js";
import { RecordingTerminator } from "../support/live-sessions.js";
import { identity, silentLog } from "../support/operation-fixtures.js";

const connections: Record<string, ConnectionConfig> = {
  analytics: connectionSchema.parse({
    type: "postgres",
    upstream: "postgres://reader@db.internal:5432/analytics",
    password: { env: "ANALYTICS_PASSWORD" },
    labels: { env: "prod" },
    max_session: "1h",
    idle_timeout: "10m",
  }),
  "web-1": connectionSchema.parse({
    type: "ssh",
    upstream: "ssh://deploy@web-1.internal:22",
    private_key: { env: "WEB1_KEY" },
    host_key: "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
  }),
};

type Credential = { password: string };

/** Everything the gate touches, in one journal: audit writes, block checks, credential calls. */
function setup() {
  const clock = new FakeClock();
  const journal: string[] = [];
  const events: AuditEventInput[] = [];
  const tokens = new Map<string, Identity>([
    ["good-token", { ...identity("agent-7"), expiresAt: clock.now() + 3_600_000 }],
    ["short-token", { ...identity("agent-7"), expiresAt: clock.now() + 60_000 }],
    ["long-token", { ...identity("agent-7"), expiresAt: clock.now() + 2 * 3_600_000 }],
  ]);
  const verifier: TokenVerifier & { calls: number } = {
    calls: 0,
    async verify(token) {
      verifier.calls += 1;
      const found = tokens.get(token);
      if (found === undefined) throw new LatchError("token_invalid", { reason: "signature mismatch" });
      return found;
    },
  };
  const blockAnswers: (boolean | Error)[] = [];
  const blocks = {
    blocked: new Set<string>(),
    isBlocked(principal: string): boolean {
      journal.push(`block check ${principal}`);
      const answer = blockAnswers.shift();
      if (answer instanceof Error) throw answer;
      return answer ?? blocks.blocked.has(principal);
    },
  };
  const audit = {
    failDurably: undefined as Error | undefined,
    record(event: AuditEventInput) {
      journal.push(`record ${event.kind}`);
      events.push(event);
    },
    async recordDurably(event: AuditEventInput) {
      await Promise.resolve();
      if (audit.failDurably !== undefined) throw audit.failDurably;
      journal.push(`durable ${event.kind}`);
      events.push(event);
    },
  };
  const provider = {
    issueFailure: undefined as Error | undefined,
    revokeFailure: undefined as Error | undefined,
    revoked: [] as { credential: Credential; subject: CredentialSubject; reason: string }[],
    async issue(subject: CredentialSubject): Promise<Credential> {
      journal.push(`issue ${subject.connection}`);
      if (provider.issueFailure !== undefined) throw provider.issueFailure;
      return { password: `pw-for-${subject.sessionId}` };
    },
    revoke(credential: Credential, subject: CredentialSubject, reason: string) {
      provider.revoked.push({ credential, subject, reason });
      if (provider.revokeFailure !== undefined) throw provider.revokeFailure;
    },
  } satisfies CredentialProvider<Credential> & Record<string, unknown>;
  const registry = new SessionRegistry();
  const metrics = createMetrics();
  const gate = new SessionGate({
    connections,
    verifier,
    blocks,
    registry,
    audit,
    metrics,
    log: silentLog,
    clock,
  });
  const request = (
    overrides: Partial<GateRequest<"postgres", Credential>> = {},
  ): GateRequest<"postgres", Credential> => ({
    protocol: "postgres",
    connectionType: "postgres",
    connectionName: "analytics",
    token: "good-token",
    clientAddress: "10.0.0.9:51234",
    clientUser: "agent",
    tls: true,
    credentials: () => provider,
    ...overrides,
  });
  return {
    clock,
    journal,
    events,
    verifier,
    blocks,
    blockAnswers,
    audit,
    provider,
    registry,
    metrics,
    gate,
    request,
  };
}

async function refusal(opening: Promise<unknown>): Promise<LatchError> {
  try {
    await opening;
  } catch (error) {
    if (error instanceof LatchError) return error;
    throw error;
  }
  throw new Error("the gate let the session in");
}

async function authFailures(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.authFailures.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.code), v.value]));
}

describe("SessionGate: refusals, in order", () => {
  it.each([
    ["no token", undefined],
    ["an empty token", "   "],
  ])("refuses %s with token_missing and an auth_failure event", async (_what, token) => {
    const { gate, request, events, verifier, metrics } = setup();
    const error = await refusal(gate.open(request({ token })));
    expect(error.code).toBe("token_missing");
    expect(verifier.calls).toBe(0);
    expect(events).toEqual([
      {
        kind: "auth_failure",
        sessionId: null,
        data: {
          protocol: "postgres",
          clientAddress: "10.0.0.9:51234",
          connection: "analytics",
          clientUser: "agent",
          code: "token_missing",
          reason: error.message,
        },
      },
    ]);
    expect(await authFailures(metrics)).toEqual({ token_missing: 1 });
  });

  it("refuses an oversized token before verifying it", async () => {
    const { gate, request, verifier } = setup();
    const error = await refusal(gate.open(request({ token: "x".repeat(16 * 1024 + 1) })));
    expect(error.code).toBe("token_invalid");
    expect(error.message).toContain("too large");
    expect(verifier.calls).toBe(0);
  });

  it("refuses a token the verifier rejects, with the verifier's error", async () => {
    const { gate, request, events, journal } = setup();
    const error = await refusal(gate.open(request({ token: "forged" })));
    expect(error.code).toBe("token_invalid");
    expect(error.message).toContain("signature mismatch");
    expect(events[0]).toMatchObject({ kind: "auth_failure", data: { code: "token_invalid" } });
    expect(events[0]?.data).not.toHaveProperty("subject");
    expect(journal.some((line) => line.startsWith("block check"))).toBe(false);
  });

  it("turns a verifier crash into an opaque internal error", async () => {
    const { gate, request, verifier } = setup();
    verifier.verify = async () => {
      throw new TypeError("cannot read properties of undefined");
    };
    const error = await refusal(gate.open(request()));
    expect(error.code).toBe("internal");
    expect(error.message).not.toContain("cannot read properties");
  });

  it("refuses a blocked principal before looking at the connection", async () => {
    const { gate, request, blocks, events, journal, registry } = setup();
    blocks.blocked.add("agent-7");
    const error = await refusal(gate.open(request({ connectionName: "no-such-connection" })));
    expect(error.code).toBe("principal_blocked");
    expect(events).toEqual([
      expect.objectContaining({
        kind: "auth_failure",
        data: expect.objectContaining({ subject: "agent-7", code: "principal_blocked" }),
      }),
    ]);
    expect(journal).toEqual(["block check agent-7", "record auth_failure"]);
    expect(registry.size).toBe(0);
  });

  it.each([
    ["an unknown connection", "no-such-connection"],
    ["a connection of another protocol", "web-1"],
    ["an inherited property name", "__proto__"],
    ["another inherited property name", "toString"],
  ] as const)("refuses %s with connection_unknown", async (_what, connectionName) => {
    const { gate, request, events, journal } = setup();
    const error = await refusal(gate.open(request({ connectionName })));
    expect(error.code).toBe("connection_unknown");
    expect(events[0]).toMatchObject({
      kind: "auth_failure",
      data: { subject: "agent-7", connection: connectionName, code: "connection_unknown" },
    });
    expect(journal.some((line) => line.startsWith("issue"))).toBe(false);
  });

  it("cuts a long connection name in the error and the record", async () => {
    const { gate, request, events } = setup();
    const error = await refusal(gate.open(request({ connectionName: "c".repeat(500) })));
    expect(error.message).not.toContain("c".repeat(64));
    expect(events[0]?.data.connection).toBe("c".repeat(63));
  });

  it("refuses when the connection's credential provider cannot be built", async () => {
    const { gate, request, events } = setup();
    const error = await refusal(
      gate.open(
        request({
          credentials: () => {
            throw new LatchError("config_invalid", { detail: "ANALYTICS_PASSWORD is not set" });
          },
        }),
      ),
    );
    expect(error.code).toBe("config_invalid");
    expect(events.map((e) => e.kind)).toEqual(["auth_failure"]);
  });

  it("fails closed when the block list cannot be read", async () => {
    const { gate, request, blockAnswers, events, journal } = setup();
    blockAnswers.push(new Error("database is locked"));
    const error = await refusal(gate.open(request()));
    expect(error.code).toBe("store_unavailable");
    expect((error.cause as Error).message).toBe("database is locked");
    expect(events).toEqual([
      expect.objectContaining({
        kind: "auth_failure",
        data: expect.objectContaining({ subject: "agent-7", code: "store_unavailable" }),
      }),
    ]);
    expect(journal.some((line) => line.startsWith("durable") || line.startsWith("issue"))).toBe(false);
  });
});

describe("SessionGate: opening a session", () => {
  it("makes session_start durable before the credential is issued, then registers the session", async () => {
    const { gate, request, journal, events, registry, metrics } = setup();
    const { session, connection } = await gate.open(request());
    expect(journal).toEqual([
      "block check agent-7",
      "durable session_start",
      "issue analytics",
      "block check agent-7",
    ]);
    expect(events[0]).toEqual({
      kind: "session_start",
      sessionId: session.id,
      data: {
        protocol: "postgres",
        connection: "analytics",
        subject: "agent-7",
        groups: ["agents"],
        issuer: "https://issuer.test",
        clientAddress: "10.0.0.9:51234",
        clientUser: "agent",
        tls: true,
      },
    });
    expect(connection).toBe(connections.analytics);
    expect(registry.get(session.id)).toBe(session);
    expect(session).toMatchObject({
      protocol: "postgres",
      connection: "analytics",
      connectionLabels: { env: "prod" },
      clientAddress: "10.0.0.9:51234",
      credential: { password: `pw-for-${session.id}` },
    });
    expect((await metrics.sessionsOpened.get()).values[0]).toMatchObject({
      labels: { protocol: "postgres", connection: "analytics" },
      value: 1,
    });
    expect((await metrics.sessionsActive.get()).values[0]?.value).toBe(1);
  });

  it("records the connection name as the client user when the client named none", async () => {
    const { gate, request, events } = setup();
    await gate.open(request({ clientUser: undefined }));
    expect(events[0]?.data.clientUser).toBe("analytics");
  });

  it("refuses with audit_unavailable, and issues nothing, when session_start cannot be written", async () => {
    const { gate, request, audit, journal, registry, metrics } = setup();
    audit.failDurably = new Error("disk full");
    const error = await refusal(gate.open(request()));
    expect(error.code).toBe("audit_unavailable");
    expect((error.cause as Error).message).toBe("disk full");
    expect(journal.some((line) => line.startsWith("issue"))).toBe(false);
    expect(registry.size).toBe(0);
    expect((await metrics.auditWriteFailures.get()).values[0]?.value).toBe(1);
  });

  it("records session_end when the credential cannot be issued, and registers nothing", async () => {
    const { gate, request, provider, events, registry } = setup();
    provider.issueFailure = new LatchError("upstream_auth_failed", {
      name: "analytics",
      reason: "role missing",
    });
    const error = await refusal(gate.open(request()));
    expect(error.code).toBe("upstream_auth_failed");
    expect(events.map((e) => e.kind)).toEqual(["session_start", "session_end"]);
    expect(events[1]?.sessionId).toBe(events[0]?.sessionId);
    expect(events[1]?.data.reason).toBe(`credential failed: ${error.message}`);
    expect(registry.size).toBe(0);
  });

  it("terminates the session when a block lands between the first check and the registration", async () => {
    const { gate, request, blockAnswers, registry, events, provider } = setup();
    blockAnswers.push(false, true);
    const { session } = await gate.open(request());
    expect(session.signal.aborted).toBe(true);
    expect(session.terminatedBeforeAttach?.error.code).toBe("principal_blocked");

    // The protocol attaches, hears the block and closes; the end's bookkeeping runs.
    const terminator = new RecordingTerminator(session);
    session.attach(terminator);
    expect(terminator.told[0]?.error.code).toBe("principal_blocked");
    expect(terminator.told[0]?.reason).toBe("principal_blocked during login");
    expect(registry.size).toBe(0);
    expect(provider.revoked.map((r) => r.reason)).toEqual(["principal_blocked during login"]);
    expect(events.at(-1)).toEqual({
      kind: "session_end",
      sessionId: session.id,
      data: { reason: "principal_blocked during login" },
    });
  });

  it("ends the session when the second block check cannot be answered", async () => {
    const { gate, request, blockAnswers, registry } = setup();
    blockAnswers.push(false, new Error("database is locked"));
    const { session } = await gate.open(request());
    expect(session.signal.aborted).toBe(true);
    const terminator = new RecordingTerminator(session);
    session.attach(terminator);
    expect(terminator.told).toEqual([
      {
        error: expect.objectContaining({ code: "store_unavailable" }),
        reason: "store_unavailable during login",
      },
    ]);
    expect(registry.size).toBe(0);
  });
});

describe("SessionGate: the end of a session", () => {
  it("unregisters the session, revokes its credential and records session_end", async () => {
    const { gate, request, registry, provider, events, metrics } = setup();
    const { session } = await gate.open(request());
    session.attach(new RecordingTerminator(session));
    session.end("client closed the connection");
    expect(registry.size).toBe(0);
    expect(provider.revoked).toEqual([
      {
        credential: session.credential,
        subject: { sessionId: session.id, identity: session.identity, connection: "analytics" },
        reason: "client closed the connection",
      },
    ]);
    expect(events.at(-1)).toEqual({
      kind: "session_end",
      sessionId: session.id,
      data: { reason: "client closed the connection" },
    });
    expect((await metrics.sessionsActive.get()).values[0]?.value).toBe(0);
  });

  it("still records session_end when revoking the credential throws", async () => {
    const { gate, request, provider, events, registry } = setup();
    provider.revokeFailure = new Error("DROP ROLE failed");
    const { session } = await gate.open(request());
    session.end("client closed the connection");
    expect(events.at(-1)?.kind).toBe("session_end");
    expect(registry.size).toBe(0);
  });

  it("arms the lifetime from the token and the connection's limits on the injected clock", async () => {
    const short = setup();
    const opened = await short.gate.open(short.request({ token: "short-token" }));
    const terminator = new RecordingTerminator(opened.session);
    opened.session.attach(terminator);
    short.clock.advance(60_000);
    expect(terminator.told[0]?.error.code).toBe("session_token_expired");
    expect(short.registry.size).toBe(0);

    const idle = setup();
    const { session } = await idle.gate.open(idle.request());
    const idleTerminator = new RecordingTerminator(session);
    session.attach(idleTerminator);
    idle.clock.advance(10 * 60_000);
    expect(idleTerminator.told[0]?.reason).toBe("idle_timeout reached");
  });

  it("ends a session at the connection's max_session", async () => {
    const { gate, request, clock } = setup();
    const { session } = await gate.open(request({ token: "long-token" }));
    const terminator = new RecordingTerminator(session);
    session.attach(terminator);
    for (let minute = 0; minute < 60; minute += 5) {
      clock.advance(5 * 60_000);
      session.touch();
    }
    expect(terminator.told.map((t) => t.reason)).toEqual(["max_session reached"]);
  });
});
