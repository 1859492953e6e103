import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import type { PostgresConnectionConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";
import { decodeBackend } from "./decode-backend.js";
import {
  encodePasswordMessage,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  encodeSSLRequest,
  encodeStartupMessage,
} from "./encode-frontend.js";
import type { FrameReader } from "./frame-reader.js";
import { HandshakeReader } from "./handshake-reader.js";
import type { TransactionStatus } from "./messages.js";
import type { ScramKeyStore } from "./scram-client.js";
import { UpstreamAuthenticator } from "./upstream-auth.js";

export interface UpstreamTarget {
  readonly connectionName: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly tls: PostgresConnectionConfig["tls"];
  readonly caFile: string | undefined;
  readonly connectTimeoutMs: number;
}

export interface UpstreamSession {
  readonly socket: net.Socket | tls.TLSSocket;
  /** Holds any bytes the server sent after ReadyForQuery in the same packet. */
  readonly frames: FrameReader;
  readonly parameters: ReadonlyMap<string, string>;
  readonly backendKey: { readonly processId: number; readonly secretKey: Buffer } | undefined;
  readonly status: TransactionStatus;
}

export interface UpstreamConnectOptions {
  /** A TCP connection to the same target opened while the login was being admitted (dialAhead). */
  readonly dialed?: PendingDial;
  /** Where this login's SCRAM keys may be kept and found: the connection's static credential only. */
  readonly scramKeys?: ScramKeyStore;
}

/** A TCP connection to the upstream opened ahead of use: only the TCP handshake, not a byte sent on it. */
export interface PendingDial {
  /** The connection, for the admitted session's login (once). */
  take(): Promise<net.Socket>;
  /** Closes the connection (the login was refused, or it failed); harmless when it was used already. */
  abandon(): void;
}

/**
 * Opens the TCP connection while the gateway is still admitting the session, so the server's backend start
 * (PostgreSQL forks on accept) overlaps with that work. Nothing is written until connectUpstream runs for an
 * admitted session; a refused login abandons it.
 */
export function dialAhead(target: UpstreamTarget): PendingDial {
  const socket = dial(target, target.connectTimeoutMs);
  let used = false;
  const connected = socket.then((opened) => {
    // Until connectUpstream's reader listens, an error (the server reset us) must not go unhandled; the
    // socket is then destroyed, which connectUpstream checks before using it.
    opened.on("error", () => {});
    return opened;
  });
  // Awaited (and reported) by connectUpstream, or by nobody when the login is refused: never unhandled.
  connected.catch(() => {});
  return {
    take: () => {
      used = true;
      return connected;
    },
    abandon: () => {
      void socket.then(
        (opened) => {
          if (!used) opened.destroy();
        },
        () => {},
      );
    },
  };
}

/** Parses the configured upstream URL once. Never uses client-supplied text (CVE-2021-41395 class). */
export function upstreamTarget(
  name: string,
  config: PostgresConnectionConfig,
  connectTimeoutMs: number,
): UpstreamTarget {
  const url = new URL(config.upstream);
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || decodeURIComponent(url.username);
  return {
    connectionName: name,
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? 5432 : Number(url.port),
    user: decodeURIComponent(url.username),
    database,
    tls: config.tls,
    caFile: config.ca_file,
    connectTimeoutMs,
  };
}

/**
 * Dials the upstream, optionally negotiates TLS, starts up as the configured user with the injected password
 * and waits for ReadyForQuery. Errors never include the upstream password; the upstream's own error text
 * (which names the upstream user) is kept for the operator's log only.
 */
export async function connectUpstream(
  target: UpstreamTarget,
  password: string | undefined,
  startupParameters: ReadonlyMap<string, string>,
  maxFrameBytes: number,
  options: UpstreamConnectOptions = {},
): Promise<UpstreamSession> {
  const deadline = Date.now() + target.connectTimeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  let socket: net.Socket | tls.TLSSocket = await (options.dialed?.take() ?? dial(target, remaining()));
  try {
    if (socket.destroyed) throw new Error("the connection closed before the login");
    if (target.tls !== "disable") socket = await negotiateTls(socket, target, remaining());
    const reader = new HandshakeReader(socket, { maxFrameBytes, startup: false });
    const params: Record<string, string> = { user: target.user, database: target.database };
    for (const [key, value] of startupParameters) params[key] = value;
    socket.write(encodeStartupMessage(params));
    const auth = new UpstreamAuthenticator(target.user, password ?? "", options.scramKeys);
    const parameters = new Map<string, string>();
    let backendKey: UpstreamSession["backendKey"];
    for (;;) {
      const message = decodeBackend(await reader.next(remaining()));
      switch (message.kind) {
        case "ErrorResponse": {
          const authFailure = message.fields.code.startsWith("28");
          // Keys that no longer log in (the server's password changed) are not offered again.
          if (authFailure) options.scramKeys?.cache.forget(options.scramKeys.slot);
          if (message.fields.code === "53300")
            throw new LatchError("upstream_too_many_connections", { name: target.connectionName });
          throw new LatchError(
            authFailure ? "upstream_auth_failed" : "upstream_unavailable",
            { name: target.connectionName, reason: `server refused the session (${message.fields.code})` },
            { cause: new Error(`${message.fields.code}: ${message.fields.message}`) },
          );
        }
        case "ParameterStatus":
          parameters.set(message.name, message.value);
          break;
        case "BackendKeyData":
          backendKey = { processId: message.processId, secretKey: Buffer.from(message.secretKey) };
          break;
        case "ReadyForQuery":
          return { socket, frames: reader.release(), parameters, backendKey, status: message.status };
        case "NoticeResponse":
        case "NegotiateProtocolVersion":
          break;
        default: {
          if (message.kind.startsWith("Authentication")) {
            if (message.kind !== "AuthenticationOk" && password === undefined) {
              throw new LatchError("upstream_auth_failed", { name: target.connectionName });
            }
            let reply: Buffer | undefined;
            try {
              reply = await auth.answer(message, {
                password: encodePasswordMessage,
                saslInitial: encodeSASLInitialResponse,
                saslResponse: encodeSASLResponse,
              });
            } catch (cause) {
              throw new LatchError("upstream_auth_failed", { name: target.connectionName }, { cause });
            }
            if (reply !== undefined) socket.write(reply);
            break;
          }
          throw new LatchError("upstream_protocol", {
            name: target.connectionName,
            reason: `unexpected ${message.kind} during startup`,
          });
        }
      }
    }
  } catch (error) {
    socket.destroy();
    if (error instanceof LatchError) throw error;
    throw new LatchError(
      "upstream_unavailable",
      { name: target.connectionName, reason: (error as Error).message },
      { cause: error },
    );
  }
}

function dial(target: UpstreamTarget, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new LatchError("upstream_unavailable", { name: target.connectionName, reason: "connect timed out" }),
      );
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
    const onError = (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new LatchError(
          "upstream_unavailable",
          { name: target.connectionName, reason: error.code ?? error.message },
          { cause: error },
        ),
      );
    };
    socket.once("error", onError);
  });
}

/** SSLRequest to the upstream; refuses a server that answers with extra bytes before the TLS handshake. */
function negotiateTls(socket: net.Socket, target: UpstreamTarget, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail("TLS negotiation timed out"), timeoutMs);
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new LatchError("upstream_unavailable", { name: target.connectionName, reason }));
    };
    socket.once("error", (error) => fail(`connection failed during TLS negotiation: ${error.message}`));
    socket.once("data", (answer: Buffer) => {
      if (answer.length !== 1) return fail("server sent unexpected bytes in answer to SSLRequest");
      if (answer[0] !== 0x53) return fail("server does not accept TLS (answered SSLRequest with N)");
      const secure = tls.connect({
        socket,
        servername: net.isIP(target.host) === 0 ? target.host : undefined,
        rejectUnauthorized: target.tls === "verify-full",
        ca: target.caFile === undefined ? undefined : readFileSync(target.caFile),
      });
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        resolve(secure);
      });
      secure.once("error", (error) => fail(`TLS handshake failed: ${error.message}`));
    });
    socket.write(encodeSSLRequest());
  });
}
