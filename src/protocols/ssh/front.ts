import type { Logger } from "pino";
import ssh2, { type AuthContext, type Client, type Connection } from "ssh2";

const { Server } = ssh2;

import type { LatchConfig, SshConnectionConfig } from "../../config/schema.js";
import { asLatchError, LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/operation-pipeline.js";
import type { LiveSession } from "../../session/live-session.js";
import type { SessionGate } from "../../session/session-gate.js";
import { listenOn } from "../listen-address.js";
import { RECORDING_EVENT_KIND, type RecordingChunk } from "./asciicast-recorder.js";
import { loadOrCreateHostKey, type SshHostKey } from "./host-key.js";
import { SshSession } from "./session.js";
import {
  connectSshUpstream,
  parseHostKeyPin,
  type SshCredential,
  sshCredentialProvider,
  sshTargetOf,
} from "./upstream.js";

export interface SshFrontDeps {
  readonly config: LatchConfig;
  readonly gate: SessionGate;
  readonly pipeline: Admitter;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Masking of recorded output (masking profiles); identity when absent. */
  readonly maskOutput?: (connection: string) => ((text: string) => string) | undefined;
}

export interface SshListener {
  readonly address: { host: string; port: number };
  readonly hostKey: SshHostKey;
  close(): Promise<void>;
}

const MAX_AUTH_ATTEMPTS = 3;
const AUTH_METHODS = ["keyboard-interactive", "password"] as const;

/**
 * The SSH front: token login (password or keyboard-interactive), the SSH user name picks the connection, the
 * session start is on record before the target is dialled, then an SshSession owns the connection.
 */
export async function startSshListener(deps: SshFrontDeps): Promise<SshListener> {
  const listen = deps.config.listen.ssh;
  // Misconfigured pins fail at start, not at the first login.
  for (const [name, connection] of Object.entries(deps.config.connections)) {
    if (connection.type === "ssh") parseHostKeyPin(connection.host_key, name);
  }
  const hostKey = loadOrCreateHostKey(deps.config.data_dir);
  const server = new Server({ hostKeys: [hostKey.privateKey], ident: "Latch" }, (client, info) =>
    handleSshClient(client, `${info.ip}:${info.port}`, deps),
  );
  server.maxConnections = deps.config.limits.max_connections;
  const address = await listenOn(server, listen, "ssh");
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
  let opened: { session: LiveSession<SshCredential>; connection: SshConnectionConfig } | undefined;
  let started = false;
  const startupTimer = setTimeout(() => client.end(), parseDuration(deps.config.limits.startup_timeout));
  startupTimer.unref();
  client.on("error", (error) => log.debug({ err: error }, "ssh client error"));
  client.on("close", () => {
    clearTimeout(startupTimer);
    // Accepted but gone before the session started: the gate's session still ends, on record.
    if (opened !== undefined && !started)
      opened.session.end("client disconnected before the session started");
  });

  client.on("authentication", (context: AuthContext) => {
    const reject = () => {
      failures += 1;
      context.reject([...AUTH_METHODS]);
      if (failures >= MAX_AUTH_ATTEMPTS) client.end();
    };
    const verify = (token: string | undefined) => {
      if (opened !== undefined) return context.accept();
      deps.gate
        .open({
          protocol: "ssh",
          connectionType: "ssh",
          connectionName: context.username,
          token,
          clientAddress,
          tls: false,
          credentials: sshCredentialProvider,
        })
        .then(
          (result) => {
            opened = result;
            context.accept();
          },
          (error: unknown) => {
            const latchError = asLatchError(error, clientAddress);
            if (latchError.code === "internal") log.error({ err: error }, "ssh login failed");
            else log.info({ code: latchError.code, reason: latchError.message }, "ssh login refused");
            reject();
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
    started = true;
    startSession(client, opened, deps, log);
  });
}

function startSession(
  client: Connection,
  opened: { session: LiveSession<SshCredential>; connection: SshConnectionConfig },
  deps: SshFrontDeps,
  log: Logger,
): void {
  const { session: live, connection } = opened;
  const name = live.connection;
  const sessionLog = log.child({ session: live.id });
  const target = sshTargetOf(name, connection, parseDuration(connection.connect_timeout));
  const started = performance.now();
  let upstreamClient: Client | undefined;
  // Dialled once, right away, and shared by the session's channels; a failure is reported on each channel.
  const upstream = connectSshUpstream(target, connection, live.credential).then((connected) => {
    deps.metrics.upstreamConnectSeconds.observe({ connection: name }, (performance.now() - started) / 1000);
    upstreamClient = connected;
    connected.on("error", (error) => sessionLog.warn({ err: error }, "upstream ssh error"));
    connected.on("close", () =>
      live.terminate(
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
  const session: SshSession = new SshSession(client, {
    session: live,
    pipeline: deps.pipeline,
    upstream: () => upstream,
    recordChunk: (chunk: RecordingChunk) =>
      deps.pipeline.recordDurably({ kind: RECORDING_EVENT_KIND, sessionId: live.id, data: { ...chunk } }),
    log: sessionLog,
    ...(mask === undefined ? {} : { maskOutput: mask }),
    onClose: (reason) => {
      upstreamClient?.removeAllListeners("close");
      upstreamClient?.end();
      live.end(reason);
    },
  });
  session.start();
  // Kill, block, revocation and the lifetime timers reach the client from here on (or now, if one landed
  // while the client was finishing its login).
  live.attach(session);
}
