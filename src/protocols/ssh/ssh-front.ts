import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import ssh2, { type AuthContext, type Client, type Connection } from "ssh2";

const { Server } = ssh2;

import type { LatchConfig, SshConnectionConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";
import type { Identity, TokenVerifier } from "../../identity/identity.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { Metrics } from "../../server/metrics.js";
import { RECORDING_EVENT_KIND, type RecordingChunk } from "./asciicast-recorder.js";
import { loadOrCreateHostKey, type SshHostKey } from "./host-key.js";
import type { SshAdmitter } from "./ssh-operation.js";
import { SshSession } from "./ssh-session.js";
import { connectSshUpstream, parseHostKeyPin, sshTargetOf } from "./ssh-upstream.js";

export interface SshFrontDeps {
  readonly config: LatchConfig;
  readonly verifier: TokenVerifier;
  readonly pipeline: SshAdmitter;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Open sessions by id, shared with the admin API (kill, counts). */
  readonly live: Map<string, { terminate(error: LatchError, reason?: string): void }>;
  /** Masking of recorded output (masking profiles); identity when absent. */
  readonly maskOutput?: (connection: string) => ((text: string) => string) | undefined;
}

export interface SshListener {
  readonly address: { host: string; port: number };
  readonly hostKey: SshHostKey;
  close(): Promise<void>;
}

const MAX_TOKEN_BYTES = 16 * 1024;
const MAX_AUTH_ATTEMPTS = 3;
const AUTH_METHODS = ["keyboard-interactive", "password"] as const;

/**
 * The SSH front: token login (password or keyboard-interactive), the SSH user name picks the connection, the
 * session start is on record before the target is dialled, then an SshSession owns the connection.
 */
export async function startSshListener(deps: SshFrontDeps): Promise<SshListener> {
  const listen = deps.config.listen.ssh;
  if (listen === undefined) throw new LatchError("config_invalid", { detail: "listen.ssh is not set" });
  // Misconfigured pins fail at start, not at the first login.
  for (const [name, connection] of Object.entries(deps.config.connections)) {
    if (connection.type === "ssh") parseHostKeyPin(connection.host_key, name);
  }
  const hostKey = loadOrCreateHostKey(deps.config.data_dir);
  const server = new Server({ hostKeys: [hostKey.privateKey], ident: "Latch" }, (client, info) =>
    handleSshClient(client, `${info.ip}:${info.port}`, deps),
  );
  server.maxConnections = deps.config.limits.max_connections;
  const split = listen.lastIndexOf(":");
  const host = listen.slice(0, split).replace(/^\[|\]$/g, "");
  const port = Number(listen.slice(split + 1));
  const address = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new LatchError("config_invalid", {
          detail: `cannot listen for ssh on ${listen}: ${error.code ?? error.message}`,
        }),
      ),
    );
    server.listen(port, host, () => {
      const bound = server.address() as { address: string; port: number };
      resolve({ host: bound.address, port: bound.port });
    });
  });
  deps.log.info(
    { ssh: `${address.host}:${address.port}`, hostKey: hostKey.fingerprint },
    "ssh listener ready",
  );
  return {
    address,
    hostKey,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function handleSshClient(client: Connection, clientAddress: string, deps: SshFrontDeps): void {
  const log = deps.log.child({ client: clientAddress, protocol: "ssh" });
  let failures = 0;
  let opened:
    | { sessionId: string; identity: Identity; name: string; connection: SshConnectionConfig }
    | undefined;
  const startupTimer = setTimeout(() => client.end(), parseDuration(deps.config.limits.startup_timeout));
  startupTimer.unref();
  client.on("error", (error) => log.debug({ err: error }, "ssh client error"));
  client.on("close", () => clearTimeout(startupTimer));

  client.on("authentication", (context: AuthContext) => {
    const refuse = (code: string, reason: string, extra: Record<string, unknown> = {}) => {
      deps.metrics.authFailures.inc({ protocol: "ssh", code });
      recordAuthFailure(deps, {
        protocol: "ssh",
        clientAddress,
        connection: context.username.slice(0, 63),
        code,
        reason,
        ...extra,
      });
      failures += 1;
      context.reject([...AUTH_METHODS]);
      if (failures >= MAX_AUTH_ATTEMPTS) client.end();
    };
    const verify = (token: string | undefined) => {
      void authenticate(token, context.username, deps).then(
        (result) => {
          if (!result.ok)
            return refuse(
              result.code,
              result.reason,
              result.subject === undefined ? {} : { subject: result.subject },
            );
          const candidate = { sessionId: randomUUID(), ...result };
          // Session start is durable before the login completes, so nothing reaches the target unrecorded.
          deps.pipeline
            .recordDurably({
              kind: "session_start",
              sessionId: candidate.sessionId,
              data: {
                protocol: "ssh",
                connection: result.name,
                subject: result.identity.subject,
                groups: result.identity.groups,
                issuer: result.identity.issuer,
                clientAddress,
                clientUser: result.name,
                tls: false,
              },
            })
            .then(
              () => {
                opened = candidate;
                context.accept();
              },
              (cause: unknown) => {
                deps.metrics.auditWriteFailures.inc();
                log.error({ err: cause }, "session start could not be recorded; login refused");
                refuse("audit_unavailable", new LatchError("audit_unavailable").message);
              },
            );
        },
        (error) => {
          log.error({ err: error }, "token verification threw");
          refuse("internal", "token verification failed");
        },
      );
    };
    if (context.method === "password") return verify(context.password);
    if (context.method === "keyboard-interactive") {
      return context.prompt(
        [{ prompt: "Latch token: ", echo: false }],
        "Latch",
        "Paste your OIDC token (latch token ...).",
        (answers) => verify(answers[0]),
      );
    }
    // "none" and publickey probes are not failures: the client learns which methods to use.
    context.reject([...AUTH_METHODS]);
  });

  client.on("ready", () => {
    clearTimeout(startupTimer);
    if (opened === undefined) return client.end();
    startSession(client, clientAddress, opened, deps, log);
  });
}

type AuthResult =
  | { ok: true; identity: Identity; name: string; connection: SshConnectionConfig }
  | { ok: false; code: string; reason: string; subject?: string };

async function authenticate(
  token: string | undefined,
  username: string,
  deps: SshFrontDeps,
): Promise<AuthResult> {
  if (token === undefined || token === "") return refusal(new LatchError("token_missing"));
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES)
    return refusal(new LatchError("token_invalid", { reason: "token is too large" }));
  let identity: Identity;
  try {
    identity = await deps.verifier.verify(token.trim());
  } catch (error) {
    if (error instanceof LatchError) return refusal(error);
    throw error;
  }
  const connection = Object.hasOwn(deps.config.connections, username)
    ? deps.config.connections[username]
    : undefined;
  if (connection === undefined || connection.type !== "ssh") {
    return {
      ...refusal(new LatchError("connection_unknown", { name: username.slice(0, 63) })),
      subject: identity.subject,
    };
  }
  return { ok: true, identity, name: username, connection };
}

function refusal(error: LatchError): { ok: false; code: string; reason: string } {
  return { ok: false, code: error.code, reason: error.message };
}

function startSession(
  client: Connection,
  clientAddress: string,
  opened: { sessionId: string; identity: Identity; name: string; connection: SshConnectionConfig },
  deps: SshFrontDeps,
  log: Logger,
): void {
  const { sessionId, identity, name, connection } = opened;
  const sessionLog = log.child({ session: sessionId });
  const target = sshTargetOf(name, connection, parseDuration(connection.connect_timeout));
  const started = performance.now();
  let upstreamClient: Client | undefined;
  // Dialled once, right away, and shared by the session's channels; a failure is reported on each channel.
  const upstream = connectSshUpstream(target, connection).then((connected) => {
    deps.metrics.upstreamConnectSeconds.observe({ connection: name }, (performance.now() - started) / 1000);
    upstreamClient = connected;
    connected.on("error", (error) => sessionLog.warn({ err: error }, "upstream ssh error"));
    connected.on("close", () =>
      session.terminate(
        new LatchError("upstream_unavailable", { name, reason: "the target closed the connection" }),
        "upstream closed",
      ),
    );
    return connected;
  });
  upstream.catch((error: LatchError) => {
    sessionLog.warn({ connection: name, code: error.code, reason: error.message }, "upstream connect failed");
  });
  const mask = deps.maskOutput?.(name);
  let expiryTimer: NodeJS.Timeout | undefined;
  const session: SshSession = new SshSession(client, {
    sessionId,
    identity,
    connection: name,
    connectionLabels: connection.labels,
    clientAddress,
    pipeline: deps.pipeline,
    upstream: () => upstream,
    recordChunk: (chunk: RecordingChunk) =>
      deps.pipeline.recordDurably({
        kind: RECORDING_EVENT_KIND,
        sessionId,
        data: { ...chunk },
      }),
    log: sessionLog,
    ...(mask === undefined ? {} : { maskOutput: mask }),
    onClose: (reason) => {
      clearTimeout(expiryTimer);
      upstreamClient?.removeAllListeners("close");
      upstreamClient?.end();
      deps.live.delete(sessionId);
      deps.metrics.sessionsActive.dec({ protocol: "ssh" });
      deps.pipeline.recordSessionEnd(sessionId, reason);
    },
  });
  deps.live.set(sessionId, session);
  deps.metrics.sessionsOpened.inc({ protocol: "ssh", connection: name });
  deps.metrics.sessionsActive.inc({ protocol: "ssh" });
  // A session does not outlive the token it was opened with (docs/security.md).
  expiryTimer = setTimeout(
    () => session.terminate(new LatchError("session_token_expired"), "token expired"),
    Math.min(Math.max(identity.expiresAt - Date.now(), 0), 2 ** 31 - 1),
  );
  expiryTimer.unref();
  session.start();
}

/** The client hears about its own failure either way; a store problem here is the pipeline's to log. */
function recordAuthFailure(deps: SshFrontDeps, data: Record<string, unknown>): void {
  deps.pipeline.record({ kind: "auth_failure", sessionId: null, data });
}
