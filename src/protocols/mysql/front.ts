/**
 * Client handshake: greeting, optional TLS upgrade (SSLRequest), HandshakeResponse41, then an AuthSwitchRequest
 * to mysql_clear_password (only inside TLS, unless tls.allow_plaintext) whose answer is the token; the gate
 * opens the session, the upstream login uses the injected credential, then the session relays commands.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type net from "node:net";
import tls from "node:tls";
import type { Logger } from "pino";
import type { LatchConfig, MysqlConnectionConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { SessionGate } from "../../session/session-gate.js";
import type { MysqlClassifier } from "../../sql/mysql/create-classifier.js";
import type { ConnectionTicket } from "../connection-limits.js";
import { HandshakeDeadline } from "../handshake-deadline.js";
import { previewSettings } from "../preview-settings.js";
import { CAPABILITY, GATEWAY_CAPABILITIES, negotiate, REQUIRED_CLIENT_CAPABILITIES } from "./capabilities.js";
import type { MysqlConnectionMasking } from "./connection-masking.js";
import { type MysqlCredential, mysqlCredentialProvider } from "./credentials.js";
import type { MysqlEphemeralUsers } from "./ephemeral-users.js";
import { asLatchError, errorPacket } from "./errors.js";
import {
  decodeClientHello,
  encodeAuthSwitchRequest,
  encodeGreeting,
  type HandshakeResponse,
} from "./handshake-packets.js";
import { HandshakeClosed, MysqlHandshakeReader } from "./handshake-reader.js";
import { encodePacket } from "./packet-writer.js";
import { encodeOk, SERVER_STATUS } from "./response-packets.js";
import { MysqlSession } from "./session.js";
import { createMysqlSessionPreviewer, type MysqlSessionPreviewer } from "./session-preview.js";
import { connectMysqlUpstream, type MysqlUpstreamTarget, mysqlUpstreamTarget } from "./upstream.js";

export interface MysqlFrontDeps {
  readonly config: LatchConfig;
  readonly tls: tls.SecureContext;
  readonly gate: SessionGate;
  readonly classifier: MysqlClassifier;
  readonly pipeline: Admitter;
  /** Masking per connection name (connections with profiles only). */
  readonly masking?: ReadonlyMap<string, MysqlConnectionMasking>;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly ticket?: ConnectionTicket;
  /** Per-session upstream users per connection name (connections without `ephemeral:` are absent). */
  readonly ephemeral?: ReadonlyMap<string, MysqlEphemeralUsers>;
}

/** What clients are told they talk to: a 5.7-compatible server (no client then assumes 8.0-only features). */
const SERVER_VERSION = "5.7.99-Latch";
const UTF8MB4_GENERAL_CI = 45;
let nextConnectionId = 1;

export async function handleMysqlClient(raw: net.Socket, deps: MysqlFrontDeps): Promise<void> {
  raw.setNoDelay(true);
  const clientAddress = `${raw.remoteAddress ?? "?"}:${raw.remotePort ?? 0}`;
  const log = deps.log.child({ client: clientAddress });
  let socket: net.Socket | tls.TLSSocket = raw;
  let sequence = 0;
  const fail = (error: LatchError) => {
    if (!socket.destroyed) socket.end(errorPacket(error, sequence));
    setTimeout(() => socket.destroy(), 1000).unref();
  };
  const handshake = new HandshakeDeadline({
    protocol: "mysql",
    timeout: deps.config.limits.startup_timeout,
    stage: "startup",
    metrics: deps.metrics,
    log,
    ticket: deps.ticket,
    onExpire: (error) => fail(error),
  });
  const remaining = () => handshake.remaining();
  const maxBytes = deps.config.limits.max_message_bytes;
  let reader = new MysqlHandshakeReader(socket, maxBytes);
  try {
    // Printable, NUL-free scramble bytes, as servers send them.
    const scramble = Buffer.from(randomBytes(20).map((b) => 0x21 + (b % 0x5e)));
    socket.write(
      encodePacket(
        encodeGreeting({
          serverVersion: SERVER_VERSION,
          connectionId: nextConnectionId++ & 0x7fffffff,
          scramble,
          capabilities: GATEWAY_CAPABILITIES,
          charset: UTF8MB4_GENERAL_CI,
          status: SERVER_STATUS.AUTOCOMMIT,
          authPlugin: "mysql_native_password",
        }),
        sequence++,
      ),
    );
    let hello = await reader.next(remaining());
    sequence = hello.sequenceId + 1;
    let decoded = decodeClientHello(hello.payload);
    let encrypted = false;
    if (decoded.kind === "SSLRequest") {
      // MySQL clients start TLS right behind the SSLRequest without waiting for an answer: bytes already read
      // are the start of the TLS handshake, handed back to the socket for the TLS layer to read.
      raw.pause();
      const early = reader.release().drain();
      if (early.length > 0) raw.unshift(early);
      socket = await upgradeToTls(raw, deps.tls, remaining());
      encrypted = true;
      reader = new MysqlHandshakeReader(socket, maxBytes);
      hello = await reader.next(remaining());
      sequence = hello.sequenceId + 1;
      decoded = decodeClientHello(hello.payload);
      if (decoded.kind !== "HandshakeResponse41")
        throw new LatchError("protocol_violation", { reason: "a second SSLRequest" });
    }
    const response: HandshakeResponse = decoded;
    if ((response.capabilities & REQUIRED_CLIENT_CAPABILITIES) !== REQUIRED_CLIENT_CAPABILITIES)
      throw new LatchError("feature_refused", {
        feature: "this client",
        why: "it does not speak the 4.1 protocol with plugin authentication",
      });
    if (!encrypted && !deps.config.tls.allow_plaintext) throw new LatchError("tls_required");
    handshake.stage = "authentication";
    let token: Buffer;
    if (response.authPlugin === "mysql_clear_password") token = response.authResponse;
    else {
      socket.write(
        encodePacket(encodeAuthSwitchRequest("mysql_clear_password", Buffer.alloc(0)), sequence++),
      );
      const answer = await reader.next(remaining());
      sequence = answer.sequenceId + 1;
      token = answer.payload;
    }
    const end = token.indexOf(0);
    const capabilities = negotiate(response.capabilities) | CAPABILITY.CONNECT_WITH_DB;
    const { session, connection } = await deps.gate.open({
      protocol: "mysql",
      connectionType: "mysql",
      connectionName: response.database ?? "",
      token: (end === -1 ? token : token.subarray(0, end)).toString("utf8") || undefined,
      clientAddress,
      clientUser: response.user,
      tls: encrypted,
      credentials: (name, c: MysqlConnectionConfig) =>
        mysqlCredentialProvider(name, c, deps.ephemeral?.get(name)),
    });
    handshake.stage = "upstream";
    handshake.done();
    const configured = mysqlUpstreamTarget(
      session.connection,
      connection,
      parseDuration(connection.connect_timeout),
    );
    const credential = session.credential;
    const target = { ...configured, user: credential.user ?? configured.user };
    const started = performance.now();
    let upstream: Awaited<ReturnType<typeof connectMysqlUpstream>>;
    try {
      upstream = await connectMysqlUpstream(
        target,
        credential.password,
        capabilities,
        response.charset,
        maxBytes,
      );
    } catch (error) {
      const latchError = asLatchError(error, session.id);
      log.warn(
        {
          connection: session.connection,
          code: latchError.code,
          cause: (latchError.cause as Error | undefined)?.message,
        },
        "upstream connect failed",
      );
      session.end(`upstream connect failed: ${latchError.message}`);
      throw latchError;
    }
    deps.metrics.upstreamConnectSeconds.observe(
      { connection: session.connection },
      (performance.now() - started) / 1000,
    );
    socket.write(encodePacket(encodeOk({ status: upstream.status }), sequence));
    const mysqlSession = new MysqlSession(socket, reader.release(), upstream.socket, upstream.packets, {
      session,
      classifier: deps.classifier,
      pipeline: deps.pipeline,
      log: log.child({ session: session.id }),
      capabilities: upstream.capabilities,
      database: target.database,
      masker: deps.masking?.get(session.connection)?.createMasker(upstream.capabilities, (reason) => {
        log.warn({ connection: session.connection, reason }, "result withheld: it could not be masked");
        deps.pipeline.record({
          kind: "protocol_error",
          sessionId: session.id,
          data: { code: "masking_failed", message: `result withheld: ${reason}` },
        });
      }),
      preview: sessionPreviewer(deps, configured, credential, upstream.capabilities, session.connection),
      initialStatus: upstream.status,
      onClose: (reason) => session.end(reason),
    });
    session.attach(mysqlSession);
    if (!session.isEnded) mysqlSession.start();
  } catch (error) {
    const closed = error instanceof HandshakeClosed || (error as NodeJS.ErrnoException).code === "ECONNRESET";
    if (closed) handshake.abandoned("closed", (error as Error).message);
    const { stage, expired } = handshake;
    handshake.done();
    if (expired) return;
    if (closed) return void socket.destroy();
    const latchError = asLatchError(error, randomUUID());
    if (latchError.code === "internal") log.error({ err: error, stage }, "handshake failed");
    else log.info({ code: latchError.code, stage, reason: latchError.message }, "connection refused");
    if (latchError.spec.class === "protocol")
      deps.metrics.protocolErrors.inc({ protocol: "mysql", side: "client" });
    fail(latchError);
  }
}

/** Previews of held writes run with this session's own credential (docs/approvals.md). */
function sessionPreviewer(
  deps: MysqlFrontDeps,
  target: MysqlUpstreamTarget,
  credential: MysqlCredential,
  capabilities: number,
  name: string,
): MysqlSessionPreviewer {
  const settings = deps.config.approvals.preview;
  const masking = deps.masking?.get(name)?.profile;
  return createMysqlSessionPreviewer(
    {
      target,
      credential,
      classifier: deps.classifier,
      capabilities: capabilities & CAPABILITY.FOUND_ROWS,
      settings: previewSettings(settings),
      ...(masking === undefined ? {} : { masking }),
    },
    settings.row_slack,
  );
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
