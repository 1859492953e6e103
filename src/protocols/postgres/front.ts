import { randomUUID } from "node:crypto";
import type net from "node:net";
import tls from "node:tls";
import { postgresCredentialProvider } from "../../credentials/postgres-credentials.js";
import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { HandshakeDeadline } from "../handshake-deadline.js";
import { decodeStartupPhase } from "./decode-frontend.js";
import { encodeAuthenticationCleartextPassword, encodeNegotiateProtocolVersion } from "./encode-backend.js";
import { asLatchError, errorFrame } from "./errors.js";
import type { PostgresFrontDeps } from "./front-deps.js";
import { HandshakeClosed, HandshakeReader, HandshakeTimeout } from "./handshake-reader.js";
import { poolSettings } from "./pooled-upstream.js";
import { type EarlyUpstream, startSession } from "./session-start.js";
import { acceptStartupParameters } from "./startup-parameters.js";
import { dialAhead, upstreamTarget } from "./upstream.js";
import { upstreamPoolKey } from "./upstream-pool.js";

export type { PostgresFrontDeps };

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
