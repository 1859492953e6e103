import { randomUUID } from "node:crypto";
import type net from "node:net";
import tls from "node:tls";
import type { Logger } from "pino";
import type { LatchConfig, PostgresConnectionConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";
import type { PostgresEphemeralRoles } from "../../credentials/postgres-ephemeral.js";
import { LatchError } from "../../errors.js";
import type { Identity, TokenVerifier } from "../../identity/identity.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { OperationPipeline } from "../../pipeline/operation-pipeline.js";
import type { Metrics } from "../../server/metrics.js";
import type { StatementClassifier } from "../../sql/classification.js";
import type { PrincipalBlockStore } from "../../store/sqlite-principal-blocks.js";
import type { AuditEventInput } from "../../store/store.js";
import type { CancelRegistry } from "./cancel-registry.js";
import type { ConnectionMasking } from "./connection-masking.js";
import { decodeStartupPhase } from "./decode-frontend.js";
import {
  encodeAuthenticationCleartextPassword,
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeNegotiateProtocolVersion,
  encodeParameterStatus,
  encodeReadyForQuery,
} from "./encode-backend.js";
import { asLatchError, errorFrame } from "./error-frames.js";
import { HandshakeReader } from "./handshake-reader.js";
import { PgSession } from "./pg-session.js";
import { armSessionLimits } from "./session-lifetime.js";
import { acceptStartupParameters } from "./startup-parameters.js";
import { connectUpstream, upstreamTarget } from "./upstream-connect.js";

export interface PostgresFrontDeps {
  readonly config: LatchConfig;
  readonly tls: tls.SecureContext;
  readonly verifier: TokenVerifier;
  readonly classifier: StatementClassifier;
  readonly pipeline: OperationPipeline;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly cancels: CancelRegistry;
  readonly live: Map<string, PgSession>;
  /** Masking per connection name (connections without masking profiles are absent). */
  readonly masking: ReadonlyMap<string, ConnectionMasking>;
  /** Per-session upstream roles per connection name (connections without `ephemeral:` are absent). */
  readonly ephemeral?: ReadonlyMap<string, PostgresEphemeralRoles>;
  /** Principals an administrator blocked: refused at login. */
  readonly blocks?: Pick<PrincipalBlockStore, "isBlocked">;
}

const MAX_TOKEN_BYTES = 16 * 1024;

/** Client handshake: TLS negotiation, startup, token authentication, upstream connect; then the session. */
export async function handlePostgresClient(raw: net.Socket, deps: PostgresFrontDeps): Promise<void> {
  raw.setNoDelay(true);
  const clientAddress = `${raw.remoteAddress ?? "?"}:${raw.remotePort ?? 0}`;
  const startupTimeout = parseDuration(deps.config.limits.startup_timeout);
  const log = deps.log.child({ client: clientAddress });
  let socket: net.Socket | tls.TLSSocket = raw;
  let reader = new HandshakeReader(socket, {
    maxFrameBytes: deps.config.limits.max_message_bytes,
    startup: true,
  });
  let encrypted = false;
  let stage = "startup";
  const fail = (error: LatchError) => {
    if (!socket.destroyed) socket.end(errorFrame(error, "FATAL"));
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  try {
    // ---- startup phase: SSLRequest / GSSENCRequest / CancelRequest / StartupMessage
    let startup: Extract<ReturnType<typeof decodeStartupPhase>, { kind: "StartupMessage" }> | undefined;
    while (startup === undefined) {
      const message = decodeStartupPhase(await reader.next(startupTimeout));
      if (message.kind === "CancelRequest") {
        deps.cancels.cancel(message.processId, message.secretKey);
        socket.destroy();
        return;
      }
      if (message.kind === "GSSENCRequest") {
        if (encrypted) throw new LatchError("protocol_violation", { reason: "GSSENCRequest inside TLS" });
        socket.write("N"); // refused: the client may go on with SSLRequest or a plaintext startup
        continue;
      }
      if (message.kind === "SSLRequest") {
        if (encrypted) throw new LatchError("protocol_violation", { reason: "second SSLRequest" });
        // Anything sent after SSLRequest but before the TLS handshake could be injected by a MITM.
        if (reader.buffered > 0)
          throw new LatchError("protocol_violation", { reason: "data sent before the TLS handshake" });
        reader.release();
        socket.write("S");
        socket = await upgradeToTls(raw, deps.tls, startupTimeout);
        encrypted = true;
        reader = new HandshakeReader(socket, {
          maxFrameBytes: deps.config.limits.max_message_bytes,
          startup: true,
        });
        continue;
      }
      startup = message;
    }
    if (!encrypted && !deps.config.tls.allow_plaintext) throw new LatchError("tls_required");
    if (startup.protocolVersion >> 16 !== 3) {
      throw new LatchError("feature_refused", {
        feature: `protocol version ${startup.protocolVersion >> 16}`,
        why: "only protocol 3 is spoken",
      });
    }
    const accepted = acceptStartupParameters(startup.parameters);
    if ((startup.protocolVersion & 0xffff) !== 0 || accepted.protocolOptions.length > 0) {
      socket.write(encodeNegotiateProtocolVersion(0, accepted.protocolOptions));
    }

    // ---- authentication: the password is the token
    stage = "authentication";
    reader.expectTyped();
    reader.requireNextType(0x70, "expected a password message (the token) after the startup message");
    socket.write(encodeAuthenticationCleartextPassword());
    const passwordFrame = await reader.next(startupTimeout);
    if (passwordFrame.type !== 0x70) {
      throw new LatchError("protocol_violation", { reason: "expected a password message" });
    }
    let identity: Identity;
    try {
      identity = await deps.verifier.verify(readToken(passwordFrame.body));
    } catch (error) {
      const latchError = asLatchError(error, randomUUID());
      deps.metrics.authFailures.inc({ protocol: "postgres", code: latchError.code });
      recordAuthFailure(deps, {
        protocol: "postgres",
        clientAddress,
        connection: accepted.database,
        clientUser: accepted.clientUser,
        code: latchError.code,
        reason: latchError.message,
      });
      throw latchError;
    }
    if (deps.blocks?.isBlocked(identity.subject) === true) {
      recordAuthFailure(deps, {
        protocol: "postgres",
        clientAddress,
        connection: accepted.database,
        subject: identity.subject,
        code: "principal_blocked",
      });
      throw new LatchError("principal_blocked");
    }
    const connection = deps.config.connections[accepted.database];
    if (connection === undefined || connection.type !== "postgres") {
      recordAuthFailure(deps, {
        protocol: "postgres",
        clientAddress,
        connection: accepted.database,
        subject: identity.subject,
        code: "connection_unknown",
      });
      throw new LatchError("connection_unknown", { name: accepted.database.slice(0, 63) });
    }

    // ---- session start is recorded before the upstream sees anything
    stage = "upstream";
    const sessionId = randomUUID();
    await appendOrRefuse(deps, {
      kind: "session_start",
      sessionId,
      data: {
        protocol: "postgres",
        connection: accepted.database,
        subject: identity.subject,
        groups: identity.groups,
        issuer: identity.issuer,
        clientAddress,
        clientUser: accepted.clientUser,
        tls: encrypted,
      },
    });
    await startSession(socket, reader, deps, {
      sessionId,
      identity,
      clientAddress,
      name: accepted.database,
      connection,
      forward: accepted.forward,
      log,
    });
  } catch (error) {
    const latchError = asLatchError(error, randomUUID());
    if (latchError.code === "internal") log.error({ err: error, stage }, "handshake failed");
    else log.info({ code: latchError.code, stage, reason: latchError.message }, "connection refused");
    if (latchError.spec.class === "protocol")
      deps.metrics.protocolErrors.inc({ protocol: "postgres", side: "client" });
    fail(latchError);
  }
}

async function startSession(
  socket: net.Socket | tls.TLSSocket,
  reader: HandshakeReader,
  deps: PostgresFrontDeps,
  s: {
    sessionId: string;
    identity: Identity;
    clientAddress: string;
    name: string;
    connection: PostgresConnectionConfig;
    forward: ReadonlyMap<string, string>;
    log: Logger;
  },
): Promise<void> {
  let target = upstreamTarget(s.name, s.connection, parseDuration(s.connection.connect_timeout));
  const endSession = (reason: string) => deps.pipeline.recordSessionEnd(s.sessionId, reason);
  const started = performance.now();
  // ---- ephemeral users (issue 5): a fresh role per session, dropped however the session ends ----
  const ephemeral = deps.ephemeral?.get(s.name);
  let ephemeralRole: string | undefined;
  const revokeEphemeral = (reason: string) => {
    if (ephemeral !== undefined && ephemeralRole !== undefined)
      void ephemeral.revoke(ephemeralRole, s.sessionId, reason);
  };
  // ---- end ephemeral users ----
  let upstream: Awaited<ReturnType<typeof connectUpstream>>;
  try {
    let password =
      s.connection.password === undefined || ephemeral !== undefined
        ? undefined
        : resolveSecret(s.connection.password, `connection ${s.name}`);
    if (ephemeral !== undefined) {
      const credential = await ephemeral.issue(s.sessionId, s.identity.subject);
      ephemeralRole = credential.user;
      target = { ...target, user: credential.user };
      password = credential.password;
    }
    upstream = await connectUpstream(target, password, s.forward, deps.config.limits.max_message_bytes);
  } catch (error) {
    revokeEphemeral("upstream connect failed");
    const latchError = asLatchError(error, s.sessionId);
    s.log.warn(
      { connection: s.name, code: latchError.code, cause: (latchError.cause as Error | undefined)?.message },
      "upstream connect failed",
    );
    endSession(`upstream connect failed: ${latchError.message}`);
    throw latchError;
  }
  deps.metrics.upstreamConnectSeconds.observe({ connection: s.name }, (performance.now() - started) / 1000);
  const greeting: Buffer[] = [encodeAuthenticationOk()];
  for (const [name, value] of upstream.parameters) {
    greeting.push(encodeParameterStatus(name, name === "session_authorization" ? s.identity.subject : value));
  }
  const key =
    upstream.backendKey === undefined ? undefined : deps.cancels.register(target, upstream.backendKey);
  if (key !== undefined) greeting.push(encodeBackendKeyData(key.processId, key.secretKey));
  greeting.push(encodeReadyForQuery(upstream.status));
  socket.write(Buffer.concat(greeting));

  deps.metrics.sessionsOpened.inc({ protocol: "postgres", connection: s.name });
  deps.metrics.sessionsActive.inc({ protocol: "postgres" });
  const labels = s.connection.labels;
  let expiryTimer: NodeJS.Timeout | undefined;
  let disarmLimits: (() => void) | undefined;
  const session = new PgSession(socket, reader.release(), upstream.socket, upstream.frames, {
    sessionId: s.sessionId,
    identity: s.identity,
    connection: s.name,
    connectionLabels: labels,
    clientAddress: s.clientAddress,
    classifier: deps.classifier,
    pipeline: deps.pipeline,
    log: s.log.child({ session: s.sessionId }),
    maxBatchBytes: deps.config.limits.max_message_bytes * 4,
    visibleUser: s.identity.subject,
    initialStatus: upstream.status,
    masker: deps.masking.get(s.name)?.createMasker((reason) => {
      s.log.warn({ connection: s.name, reason }, "result withheld: it could not be masked");
      deps.pipeline.record({
        kind: "protocol_error",
        sessionId: s.sessionId,
        data: { code: "masking_failed", message: `result withheld: ${reason}` },
      });
    }),
    onClose: (reason) => {
      clearTimeout(expiryTimer);
      disarmLimits?.();
      revokeEphemeral(reason);
      if (key !== undefined) deps.cancels.unregister(key.processId);
      deps.live.delete(s.sessionId);
      deps.metrics.sessionsActive.dec({ protocol: "postgres" });
      endSession(reason);
    },
  });
  deps.live.set(s.sessionId, session);
  // A block that landed while the upstream connect ran found nothing to end: it is honoured here instead.
  if (deps.blocks?.isBlocked(s.identity.subject) === true) {
    session.terminate(new LatchError("principal_blocked"), "principal blocked during login");
    return;
  }
  // A session does not outlive the token it was opened with (docs/security.md).
  const remaining = s.identity.expiresAt - Date.now();
  expiryTimer = setTimeout(
    () => session.terminate(new LatchError("session_token_expired"), "token expired"),
    Math.min(Math.max(remaining, 0), 2 ** 31 - 1),
  );
  expiryTimer.unref();
  disarmLimits = armSessionLimits(session, {
    maxSession: s.connection.max_session,
    idleTimeout: s.connection.idle_timeout,
  });
  session.start();
}

/** Session start must be on record before any upstream traffic: a store failure refuses the session. */
async function appendOrRefuse(deps: PostgresFrontDeps, event: AuditEventInput): Promise<void> {
  try {
    await deps.pipeline.recordDurably(event);
  } catch (cause) {
    deps.metrics.auditWriteFailures.inc();
    throw new LatchError("audit_unavailable", {}, { cause });
  }
}

/** The client hears about its own failure either way; a store problem here is the operator's to see. */
function recordAuthFailure(deps: PostgresFrontDeps, data: Record<string, unknown>): void {
  deps.pipeline.record({ kind: "auth_failure", sessionId: null, data });
}

function readToken(body: Buffer): string {
  const end = body.indexOf(0);
  const bytes = end === -1 ? body : body.subarray(0, end);
  if (bytes.length === 0) throw new LatchError("token_missing");
  if (bytes.length > MAX_TOKEN_BYTES) throw new LatchError("token_invalid", { reason: "token is too large" });
  return bytes.toString("utf8");
}

function upgradeToTls(
  socket: net.Socket,
  context: tls.SecureContext,
  timeoutMs: number,
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new LatchError("protocol_violation", { reason: "TLS handshake timed out" }));
    }, timeoutMs);
    secure.once("secure", () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once("error", (error) => {
      clearTimeout(timer);
      reject(new LatchError("protocol_violation", { reason: `TLS handshake failed: ${error.message}` }));
    });
  });
}
