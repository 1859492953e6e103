/**
 * Dials the connection's MySQL/MariaDB server and logs in as the configured user with the injected password
 * (mysql_native_password or caching_sha2_password, whichever the server asks for), optionally over TLS. Never
 * uses client-supplied host, user or database. Errors never carry the password.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import type { MysqlConnectionConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";
import { CAPABILITY, upstreamCapabilities } from "./capabilities.js";
import {
  decodeAuthSwitchRequest,
  decodeGreeting,
  encodeHandshakeResponse,
  encodeSslRequest,
  type ServerGreeting,
} from "./handshake-packets.js";
import { MysqlHandshakeReader } from "./handshake-reader.js";
import type { PacketReader } from "./packet-reader.js";
import { encodePacket } from "./packet-writer.js";
import { PayloadCursor } from "./payload-cursor.js";
import { decodeErr, decodeOk } from "./response-packets.js";
import { ResponseTracker } from "./response-tracker.js";
import { authResponseFor, rsaEncryptedPassword } from "./upstream-auth.js";

export interface MysqlUpstreamTarget {
  readonly connectionName: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly tls: MysqlConnectionConfig["tls"];
  readonly caFile: string | undefined;
  readonly connectTimeoutMs: number;
}

export interface MysqlUpstream {
  readonly socket: net.Socket | tls.TLSSocket;
  readonly packets: PacketReader;
  readonly greeting: ServerGreeting;
  readonly capabilities: number;
  readonly status: number;
}

export function mysqlUpstreamTarget(
  name: string,
  config: MysqlConnectionConfig,
  connectTimeoutMs: number,
): MysqlUpstreamTarget {
  const url = new URL(config.upstream);
  return {
    connectionName: name,
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? 3306 : Number(url.port),
    user: decodeURIComponent(url.username),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")),
    tls: config.tls,
    caFile: config.ca_file,
    connectTimeoutMs,
  };
}

export async function connectMysqlUpstream(
  target: MysqlUpstreamTarget,
  password: string | undefined,
  clientCapabilities: number,
  charset: number,
  maxMessageBytes: number,
): Promise<MysqlUpstream> {
  const deadline = Date.now() + target.connectTimeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  const fail = (
    code: "upstream_unavailable" | "upstream_auth_failed",
    reason: string,
    cause?: unknown,
  ): never => {
    throw new LatchError(
      code,
      { name: target.connectionName, reason },
      cause === undefined ? undefined : { cause },
    );
  };
  let socket: net.Socket | tls.TLSSocket = await dial(target, remaining());
  try {
    let reader = new MysqlHandshakeReader(socket, maxMessageBytes);
    const first = await reader.next(remaining());
    if (first.payload[0] === 0xff)
      fail("upstream_unavailable", `server refused the connection: ${decodeErr(first.payload).message}`);
    const greeting = decodeGreeting(first.payload);
    let capabilities: number;
    try {
      capabilities = upstreamCapabilities(
        clientCapabilities,
        greeting.capabilities,
        target.tls !== "disable",
      );
    } catch (error) {
      return fail("upstream_unavailable", (error as Error).message);
    }
    let sequence = first.sequenceId + 1;
    if (target.tls !== "disable") {
      if (!(greeting.capabilities & CAPABILITY.SSL))
        fail("upstream_unavailable", "the server does not offer TLS");
      socket.write(encodePacket(encodeSslRequest(capabilities, charset), sequence++));
      reader.release();
      socket = await upgrade(socket as net.Socket, target, remaining());
      reader = new MysqlHandshakeReader(socket, maxMessageBytes);
    }
    const secret = password ?? "";
    let plugin = greeting.authPlugin;
    let scramble = greeting.scramble;
    const response = authResponseFor(plugin, secret, scramble) ?? Buffer.alloc(0);
    socket.write(
      encodePacket(
        encodeHandshakeResponse({
          capabilities,
          maxPacketSize: 0x1000000,
          charset,
          user: target.user,
          authResponse: response,
          database: target.database,
          authPlugin: plugin,
          attributes: new Map(),
        }),
        sequence++,
      ),
    );
    for (;;) {
      const message = await reader.next(remaining());
      sequence = message.sequenceId + 1;
      const header = message.payload[0];
      if (header === 0x00) {
        const ok = decodeOk(message.payload);
        await refuseLexerModes(socket, reader, capabilities, target, remaining);
        return { socket, packets: reader.release(), greeting, capabilities, status: ok.status };
      }
      if (header === 0xff) {
        const err = decodeErr(message.payload);
        if (err.code === 1040)
          throw new LatchError("upstream_too_many_connections", { name: target.connectionName });
        const auth = err.code === 1045 || err.code === 1044 || err.code === 1698;
        fail(
          auth ? "upstream_auth_failed" : "upstream_unavailable",
          `server refused the login (${err.code})`,
          new Error(`${err.code}: ${err.message}`),
        );
      }
      if (header === 0xfe) {
        const change = decodeAuthSwitchRequest(message.payload);
        plugin = change.plugin;
        scramble = change.data;
        const answer = authResponseFor(plugin, secret, scramble);
        if (answer === undefined)
          fail(
            "upstream_auth_failed",
            `the server asks for the ${plugin} method, which Latch does not speak`,
          );
        socket.write(encodePacket(answer ?? Buffer.alloc(0), sequence));
        continue;
      }
      if (header === 0x01 && plugin === "caching_sha2_password") {
        const more = message.payload.subarray(1);
        if (more.length === 1 && more[0] === 0x03) continue; // fast authentication succeeded; OK follows
        if (more.length === 1 && more[0] === 0x04) {
          // Full authentication: the password in clear inside TLS, else encrypted with the server's RSA key.
          if (socket instanceof tls.TLSSocket)
            socket.write(encodePacket(Buffer.from(`${secret}\u0000`, "utf8"), sequence));
          else socket.write(encodePacket(Buffer.from([0x02]), sequence));
          continue;
        }
        socket.write(encodePacket(rsaEncryptedPassword(secret, scramble, more.toString("utf8")), sequence));
        continue;
      }
      fail("upstream_unavailable", `unexpected packet 0x${(header ?? 0).toString(16)} during login`);
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

/**
 * The classifier reads strings and quotes as the default sql_mode does. A server whose sql_mode has ANSI_QUOTES
 * ("x" is a name) or NO_BACKSLASH_ESCAPES (\\ is no escape) would read some texts differently: refused.
 */
async function refuseLexerModes(
  socket: net.Socket | tls.TLSSocket,
  reader: MysqlHandshakeReader,
  capabilities: number,
  target: MysqlUpstreamTarget,
  remaining: () => number,
): Promise<void> {
  socket.write(encodePacket(Buffer.from("\u0003SELECT @@SESSION.sql_mode", "utf8"), 0));
  const tracker = new ResponseTracker(capabilities);
  let columnsSeen = 0;
  let mode: string | undefined;
  for (;;) {
    const message = await reader.next(remaining());
    const payload = message.payload;
    if (columnsSeen >= 2 && mode === undefined && payload[0] !== 0xfe && payload[0] !== 0xff)
      mode = new PayloadCursor(payload, "sql_mode row").lenencString();
    columnsSeen++;
    const done = tracker.push(payload);
    if (done === undefined) continue;
    if (done.error !== undefined || mode === undefined)
      throw new LatchError("upstream_protocol", {
        name: target.connectionName,
        reason: "could not read the server's sql_mode",
      });
    const modes = mode.toUpperCase().split(",");
    for (const refused of ["ANSI_QUOTES", "NO_BACKSLASH_ESCAPES", "ANSI"])
      if (modes.includes(refused))
        throw new LatchError("upstream_unavailable", {
          name: target.connectionName,
          reason: `the server's sql_mode has ${refused}, which changes how statements are read; Latch supports the default quoting rules only (set sql_mode for the upstream user without it)`,
        });
    return;
  }
}

function dial(target: MysqlUpstreamTarget, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new LatchError("upstream_unavailable", { name: target.connectionName, reason: "connect timed out" }),
      );
    }, timeoutMs);
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
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
    socket.once("error", onError);
  });
}

function upgrade(socket: net.Socket, target: MysqlUpstreamTarget, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      servername: net.isIP(target.host) === 0 ? target.host : undefined,
      rejectUnauthorized: target.tls === "verify-full",
      ca: target.caFile === undefined ? undefined : readFileSync(target.caFile),
    });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(
        new LatchError("upstream_unavailable", {
          name: target.connectionName,
          reason: "TLS handshake timed out",
        }),
      );
    }, timeoutMs);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once("error", (error) => {
      clearTimeout(timer);
      reject(
        new LatchError("upstream_unavailable", {
          name: target.connectionName,
          reason: `TLS handshake failed: ${error.message}`,
        }),
      );
    });
  });
}
