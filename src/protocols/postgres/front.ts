import { randomUUID } from "node:crypto";
import type net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { Logger } from "pino";
import type { LatchConfig, PostgresConnectionConfig } from "../../config/schema.js";
import {
  type PostgresCredential,
  postgresCredentialProvider,
} from "../../credentials/postgres-credentials.js";
import type { PostgresEphemeralRoles } from "../../credentials/postgres-ephemeral.js";
import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { LiveSession } from "../../session/live-session.js";
import type { SessionGate } from "../../session/session-gate.js";
import type { StatementClassifier } from "../../sql/classification.js";
import type { ConnectionTicket } from "../connection-limits.js";
import { HandshakeDeadline } from "../handshake-deadline.js";
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
import { asLatchError, errorFrame } from "./errors.js";
import { HandshakeClosed, HandshakeReader, HandshakeTimeout } from "./handshake-reader.js";
import { poolSettings, type SessionUpstream, sessionPooling } from "./pooled-upstream.js";
import { scramSlot, upstreamScramKeys } from "./scram-key-cache.js";
import { PgSession } from "./session.js";
import { createSessionPreviewer, type SessionPreviewer } from "./session-preview.js";
import { acceptStartupParameters } from "./startup-parameters.js";
import {
  connectUpstream,
  dialAhead,
  type PendingDial,
  type UpstreamTarget,
  upstreamTarget,
} from "./upstream.js";
import { type UpstreamPool, upstreamPoolKey } from "./upstream-pool.js";

export interface PostgresFrontDeps {
  readonly config: LatchConfig;
  readonly tls: tls.SecureContext;
  readonly gate: SessionGate;
  readonly classifier: StatementClassifier;
  readonly pipeline: Admitter;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly cancels: CancelRegistry;
  /** Masking per connection name (connections without masking profiles are absent). */
  readonly masking: ReadonlyMap<string, ConnectionMasking>;
  /** Per-session upstream roles per connection name (connections without `ephemeral:` are absent). */
  readonly ephemeral?: ReadonlyMap<string, PostgresEphemeralRoles>;
  /** The listener's admission of this connection: told when the handshake is over. */
  readonly ticket?: ConnectionTicket;
  /** Idle upstream connections of the connections that set `pool:` (absent: every session dials). */
  readonly pool?: UpstreamPool;
}

/** Client handshake: TLS negotiation, startup, token authentication, upstream connect; then the session. */
export async function handlePostgresClient(raw: net.Socket, deps: PostgresFrontDeps): Promise<void> {
  raw.setNoDelay(true);
  const clientAddress = `${raw.remoteAddress ?? "?"}:${raw.remotePort ?? 0}`;
  const log = deps.log.child({ client: clientAddress });
  // One deadline for the whole handshake (TLS, startup, token), whatever the client sends: a GSSENCRequest or
  // SSLRequest does not buy another startup_timeout.
  const handshake = new HandshakeDeadline({
    protocol: "postgres",
    timeout: deps.config.limits.startup_timeout,
    stage: "startup",
    metrics: deps.metrics,
    log,
    ticket: deps.ticket,
    onExpire: (error) => fail(error),
  });
  const remaining = () => handshake.remaining();
  let socket: net.Socket | tls.TLSSocket = raw;
  let reader = new HandshakeReader(socket, {
    maxFrameBytes: deps.config.limits.max_message_bytes,
    startup: true,
  });
  let encrypted = false;
  /** The upstream TCP connection opened once the token is verified, while the session is being admitted. */
  let early: EarlyUpstream | undefined;
  const fail = (error: LatchError) => {
    if (!socket.destroyed) socket.end(errorFrame(error, "FATAL"));
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  try {
    // ---- startup phase: SSLRequest / GSSENCRequest / CancelRequest / StartupMessage
    let startup: Extract<ReturnType<typeof decodeStartupPhase>, { kind: "StartupMessage" }> | undefined;
    while (startup === undefined) {
      const message = decodeStartupPhase(await reader.next(remaining()));
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
        socket = await upgradeToTls(raw, deps.tls, remaining());
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
    handshake.stage = "authentication";
    reader.expectTyped();
    reader.requireNextType(0x70, "expected a password message (the token) after the startup message");
    socket.write(encodeAuthenticationCleartextPassword());
    const passwordFrame = await reader.next(remaining());
    if (passwordFrame.type !== 0x70) {
      throw new LatchError("protocol_violation", { reason: "expected a password message" });
    }
    const { session, connection } = await deps.gate.open({
      protocol: "postgres",
      connectionType: "postgres",
      connectionName: accepted.database,
      token: readToken(passwordFrame.body),
      clientAddress,
      clientUser: accepted.clientUser,
      tls: encrypted,
      // Asked after the token is verified and the principal found not blocked: the upstream's TCP handshake
      // and backend start then overlap session_start's durable write; nothing is sent before admission.
      credentials: (name, connection) => {
        const provider = postgresCredentialProvider(name, connection, deps.ephemeral?.get(name));
        const target = upstreamTarget(name, connection, parseDuration(connection.connect_timeout));
        // An idle pooled backend will most likely serve this session: no second connection is opened for it.
        const pooled =
          deps.pool !== undefined &&
          poolSettings(connection) !== undefined &&
          deps.pool.hasIdle(upstreamPoolKey(target, accepted.forward));
        early = pooled ? { target } : { target, dial: dialAhead(target) };
        return provider;
      },
    });
    handshake.stage = "upstream";
    handshake.done();
    await startSession(socket, reader, deps, {
      session,
      connection,
      forward: accepted.forward,
      log,
      early,
    });
  } catch (error) {
    early?.dial?.abandon();
    // A TCP probe, a scanner, or a client that gave up (psql without a password closes at the password
    // prompt, asks, and reconnects; a reset is as normal as a FIN): counted, not an error worth a stack trace
    // (and nothing more if the deadline already answered it).
    const closed = error instanceof HandshakeClosed || isClientDisconnect(error);
    if (closed || error instanceof HandshakeTimeout)
      handshake.abandoned(closed ? "closed" : "timeout", (error as Error).message);
    const { stage, expired } = handshake;
    handshake.done();
    if (expired) return;
    if (error instanceof HandshakeTimeout) return fail(handshake.timeoutError());
    if (closed) return void socket.destroy();
    const latchError = asLatchError(error, randomUUID());
    if (latchError.code === "internal") log.error({ err: error, stage }, "handshake failed");
    else log.info({ code: latchError.code, stage, reason: latchError.message }, "connection refused");
    if (latchError.spec.class === "protocol")
      deps.metrics.protocolErrors.inc({ protocol: "postgres", side: "client" });
    fail(latchError);
  }
}

/** Socket errors that only mean the client went away (reset or closed under our write), not a fault. */
const DISCONNECT_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_STREAM_PREMATURE_CLOSE"]);

function isClientDisconnect(error: unknown): boolean {
  if (error instanceof LatchError || !(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return code !== undefined && DISCONNECT_CODES.has(code);
}

async function startSession(
  socket: net.Socket | tls.TLSSocket,
  reader: HandshakeReader,
  deps: PostgresFrontDeps,
  s: {
    session: LiveSession<PostgresCredential>;
    connection: PostgresConnectionConfig;
    forward: ReadonlyMap<string, string>;
    log: Logger;
    early: EarlyUpstream | undefined;
  },
): Promise<void> {
  const { session, connection } = s;
  const name = session.connection;
  let target = s.early?.target ?? upstreamTarget(name, connection, parseDuration(connection.connect_timeout));
  // A per-session role's one-off password is never seen again: its SCRAM keys are not kept.
  const ephemeral = session.credential.user !== undefined;
  if (ephemeral) target = { ...target, user: session.credential.user };
  const pooling = ephemeral
    ? undefined
    : sessionPooling(deps.pool, connection, {
        target,
        forward: s.forward,
        password: session.credential.password,
        maxFrameBytes: deps.config.limits.max_message_bytes,
        log: s.log,
      });
  const pooled = pooling?.checkout();
  if (pooling !== undefined)
    deps.metrics.upstreamPoolCheckouts.inc({ connection: name, result: pooled ? "hit" : "miss" });
  if (pooled !== undefined) s.early?.dial?.abandon();
  const upstream = pooled ?? (await dialUpstream(deps, s, target, ephemeral));
  deps.pipeline.record(upstreamConnected(session.id, name, upstream, pooled !== undefined, deps), {
    lazy: true,
  });
  const greeting: Buffer[] = [encodeAuthenticationOk()];
  for (const [parameter, value] of upstream.parameters) {
    greeting.push(
      encodeParameterStatus(parameter, parameter === "session_authorization" ? session.subject : value),
    );
  }
  const key =
    upstream.backendKey === undefined ? undefined : deps.cancels.register(target, upstream.backendKey);
  if (key !== undefined) greeting.push(encodeBackendKeyData(key.processId, key.secretKey));
  greeting.push(encodeReadyForQuery(upstream.status));
  socket.write(Buffer.concat(greeting));

  const pgSession = new PgSession(socket, reader.release(), upstream.socket, upstream.frames, {
    session,
    classifier: deps.classifier,
    pipeline: deps.pipeline,
    log: s.log.child({ session: session.id }),
    maxBatchBytes: deps.config.limits.max_message_bytes * 4,
    visibleUser: session.subject,
    initialStatus: upstream.status,
    masker: deps.masking.get(name)?.createMasker((reason) => {
      s.log.warn({ connection: name, reason }, "result withheld: it could not be masked");
      deps.pipeline.record({
        kind: "protocol_error",
        sessionId: session.id,
        data: { code: "masking_failed", message: `result withheld: ${reason}` },
      });
    }),
    preview: sessionPreviewer(deps, target, session.credential, name),
    ...(pooling === undefined
      ? {}
      : {
          reuse: (server: Duplex, reported: ReadonlyMap<string, string>) => {
            // No cancel reaches this backend through the old key from now on; those already sent land first.
            if (key !== undefined) deps.cancels.unregister(key.processId);
            const backend = upstream.backendKey;
            pooling.release(
              server,
              { ...upstream, parameters: new Map([...upstream.parameters, ...reported]) },
              backend === undefined ? undefined : deps.cancels.delivered(target, backend.processId),
            );
          },
        }),
    onClose: (reason) => {
      if (key !== undefined) deps.cancels.unregister(key.processId);
      session.end(reason);
    },
  });
  // Kill, block, revocation and the lifetime timers reach the client from here on (or now, if one landed
  // during the upstream connect).
  session.attach(pgSession);
  if (!session.isEnded) pgSession.start();
}

/**
 * Which backend serves the session, for the record: its process id ties the session to the server's own logs
 * and pg_stat_activity, and a pooled one says how long it has lived (it served earlier sessions before).
 */
function upstreamConnected(
  sessionId: string,
  connection: string,
  upstream: { readonly backendKey?: { readonly processId: number }; readonly bornAt: number },
  reused: boolean,
  deps: PostgresFrontDeps,
): Parameters<Admitter["record"]>[0] {
  // Keys in sorted order: the canonical encoding's native path.
  const data: Record<string, unknown> = {};
  if (reused) data.backendAgeMs = Math.max(0, (deps.pool?.now() ?? Date.now()) - upstream.bornAt);
  data.backendPid = upstream.backendKey?.processId ?? null;
  data.connection = connection;
  data.reused = reused;
  return { kind: "upstream_connected", sessionId, data };
}

/** The TCP connection opened while the session was admitted; none when a pooled backend was expected. */
interface EarlyUpstream {
  readonly target: UpstreamTarget;
  readonly dial?: PendingDial;
}

/** Dials and logs in as the connection's credential (the path of every session without a pooled backend). */
async function dialUpstream(
  deps: PostgresFrontDeps,
  s: {
    session: LiveSession<PostgresCredential>;
    forward: ReadonlyMap<string, string>;
    log: Logger;
    early: EarlyUpstream | undefined;
  },
  target: UpstreamTarget,
  ephemeral: boolean,
): Promise<SessionUpstream> {
  const { session } = s;
  const name = session.connection;
  const started = performance.now();
  const bornAt = deps.pool?.now() ?? Date.now();
  try {
    const upstream = await connectUpstream(
      target,
      session.credential.password,
      s.forward,
      deps.config.limits.max_message_bytes,
      {
        ...(s.early?.dial === undefined ? {} : { dialed: s.early.dial }),
        ...(ephemeral
          ? {}
          : {
              scramKeys: {
                cache: upstreamScramKeys,
                slot: scramSlot(name, target.host, target.port, target.user),
              },
            }),
      },
    );
    deps.metrics.upstreamConnectSeconds.observe({ connection: name }, (performance.now() - started) / 1000);
    return { ...upstream, bornAt };
  } catch (error) {
    const latchError = asLatchError(error, session.id);
    s.log.warn(
      { connection: name, code: latchError.code, cause: (latchError.cause as Error | undefined)?.message },
      "upstream connect failed",
    );
    session.end(`upstream connect failed: ${latchError.message}`);
    throw latchError;
  }
}

/** Previews of held writes run with this session's own credential (docs/approvals.md). */
function sessionPreviewer(
  deps: PostgresFrontDeps,
  target: UpstreamTarget,
  credential: PostgresCredential,
  name: string,
): SessionPreviewer {
  const settings = deps.config.approvals.preview;
  const masking = deps.masking.get(name)?.profile;
  return createSessionPreviewer(
    {
      target,
      credential,
      classifier: deps.classifier,
      settings: {
        statementTimeoutMs: parseDuration(settings.statement_timeout),
        lockTimeoutMs: parseDuration(settings.lock_timeout),
        sampleRows: settings.sample_rows,
        sampleBytes: settings.sample_bytes,
        planBytes: settings.plan_bytes,
      },
      ...(masking === undefined ? {} : { masking }),
    },
    settings.row_slack,
  );
}

/** The password message's text up to its terminator; the gate judges it (missing, too large, invalid). */
function readToken(body: Buffer): string {
  const end = body.indexOf(0);
  return (end === -1 ? body : body.subarray(0, end)).toString("utf8");
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
