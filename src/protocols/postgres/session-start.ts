import type net from "node:net";
import type { Duplex } from "node:stream";
import type tls from "node:tls";
import type { Logger } from "pino";
import type { PostgresConnectionConfig } from "../../config/schema.js";
import type { PostgresCredential } from "../../credentials/postgres-credentials.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { LiveSession } from "../../session/live-session.js";
import { previewSettings } from "../preview-settings.js";
import {
  encodeAuthenticationOk,
  encodeBackendKeyData,
  encodeParameterStatus,
  encodeReadyForQuery,
} from "./encode-backend.js";
import { asLatchError } from "./errors.js";
import type { PostgresFrontDeps } from "./front-deps.js";
import type { HandshakeReader } from "./handshake-reader.js";
import { type SessionUpstream, sessionPooling } from "./pooled-upstream.js";
import { scramSlot, upstreamScramKeys } from "./scram-key-cache.js";
import { PgSession } from "./session.js";
import { createSessionPreviewer, type SessionPreviewer } from "./session-preview.js";
import { connectUpstream, type PendingDial, type UpstreamTarget, upstreamTarget } from "./upstream.js";

/**
 * A session once its client is authenticated: its upstream (a pooled backend, or dialled and logged in with the
 * injected credential), the greeting the client hears, and the relay (PgSession) with its recording and masking.
 */
export async function startSession(
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
export interface EarlyUpstream {
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
      settings: previewSettings(settings),
      ...(masking === undefined ? {} : { masking }),
    },
    settings.row_slack,
  );
}
