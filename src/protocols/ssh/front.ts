import net from "node:net";
import type { Logger } from "pino";
import ssh2, { type AuthContext, type Client, type Connection } from "ssh2";

const { Server } = ssh2;

import type { LatchConfig, SshConnectionConfig } from "../../config/schema.js";
import { asLatchError, LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { LiveSession } from "../../session/live-session.js";
import type { SessionGate } from "../../session/session-gate.js";
import { admitConnection } from "../admit-connection.js";
import { ConnectionLimits, type ConnectionTicket } from "../connection-limits.js";
import { HandshakeDeadline } from "../handshake-deadline.js";
import { listenOn } from "../listen-address.js";
import { RECORDING_EVENT_KIND, type RecordingChunk } from "./asciicast-recorder.js";
import { SSH_SOFTWARE_VERSION } from "./disconnect.js";
import { sshDisconnectBeforeKex } from "./errors.js";
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
  /** No new connections; those open stay (shutdown drain). */
  stopAccepting(): void;
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
  // Accepted sockets whose client has not sent its identification line yet, by remote "address:port": ssh2
  // reports a client only once that line is in, and the deadline must hold from the first byte.
  const arriving = new Map<string, SshHandshake>();
  const ssh = new Server({ hostKeys: [hostKey.privateKey], ident: SSH_SOFTWARE_VERSION }, (client, info) => {
    const key = `${info.ip}:${info.port}`;
    const handshake = arriving.get(key);
    arriving.delete(key);
    if (handshake === undefined) return client.end(); // closed meanwhile
    handleSshClient(client, handshake, deps);
  });
  const limits = new ConnectionLimits(
    deps.config.limits.max_connections,
    deps.config.limits.max_handshakes_per_address,
  );
  const server = net.createServer({ noDelay: true }, (socket) => {
    const ticket = admitConnection(socket, {
      limits,
      protocol: "ssh",
      metrics: deps.metrics,
      log: deps.log,
      answer: (refusal) => sshDisconnectBeforeKex(refusal, false),
    });
    if (ticket === undefined) return;
    const clientAddress = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
    const handshake = watchSshHandshake(socket, clientAddress, ticket, deps);
    arriving.set(clientAddress, handshake);
    socket.once("close", () => arriving.delete(clientAddress));
    ssh.injectSocket(socket);
  });
  const address = await listenOn(server, listen, "ssh");
  // Emitted once the listener is closed and its last connection has ended, however often close() was called.
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  deps.log.info(
    { ssh: `${address.host}:${address.port}`, hostKey: hostKey.fingerprint },
    "ssh listener ready",
  );
  return {
    address,
    hostKey,
    stopAccepting: () => void server.close(),
    close: () => {
      server.close();
      return closed;
    },
  };
}

/** One client's way from its first byte to a started session. */
interface SshHandshake {
  readonly clientAddress: string;
  readonly deadline: HandshakeDeadline;
  readonly log: Logger;
  /** Set once ssh2 has the client's identification line. */
  client: Connection | undefined;
  closed: boolean;
}

/**
 * The whole handshake (identification, key exchange, authentication) is bounded by limits.startup_timeout,
 * whatever the client sends or does not send; a client gone before the end is counted as abandoned.
 */
function watchSshHandshake(
  socket: net.Socket,
  clientAddress: string,
  ticket: ConnectionTicket,
  deps: SshFrontDeps,
): SshHandshake {
  const log = deps.log.child({ client: clientAddress, protocol: "ssh" });
  const handshake: SshHandshake = {
    clientAddress,
    log,
    client: undefined,
    closed: false,
    deadline: new HandshakeDeadline({
      protocol: "ssh",
      timeout: deps.config.limits.startup_timeout,
      stage: "identification",
      metrics: deps.metrics,
      log,
      ticket,
      onExpire: (error) => {
        // Once the key exchange has begun only ssh2 can frame a packet (its disconnect carries no text).
        if (handshake.client !== undefined) handshake.client.end();
        else socket.end(sshDisconnectBeforeKex(error, socket.bytesWritten > 0));
        setTimeout(() => socket.destroy(), 1000).unref();
      },
    }),
  };
  socket.once("close", () => {
    handshake.closed = true;
    handshake.deadline.abandoned("closed");
    handshake.deadline.done();
  });
  return handshake;
}

function handleSshClient(client: Connection, handshake: SshHandshake, deps: SshFrontDeps): void {
  const { clientAddress, deadline, log } = handshake;
  handshake.client = client;
  deadline.stage = "key exchange";
  let failures = 0;
  let opened: { session: LiveSession<SshCredential>; connection: SshConnectionConfig } | undefined;
  let started = false;
  client.on("error", (error) => log.debug({ err: error.message, stage: deadline.stage }, "ssh client error"));
  client.once("handshake", () => {
    deadline.stage = "authentication";
  });
  client.on("close", () => {
    // Accepted but gone before the session started: the gate's session still ends, on record.
    if (opened !== undefined && !started)
      opened.session.end("client disconnected before the session started");
  });

  client.on("authentication", (context: AuthContext) => {
    const reject = () => {
      failures += 1;
      context.reject([...AUTH_METHODS]);
      if (failures >= MAX_AUTH_ATTEMPTS) {
        deadline.done(); // refused, not abandoned
        client.end();
      }
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
            // The client left (or the deadline closed it) while the gate was deciding.
            if (handshake.closed) return result.session.end("client disconnected before the session started");
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
    deadline.done();
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
