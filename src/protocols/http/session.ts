import type { Logger } from "pino";
import type { HttpConnectionConfig } from "../../config/schema.js";
import { asLatchError, type LatchError } from "../../errors.js";
import type { LiveSession, SessionTerminator } from "../../session/live-session.js";
import type { SessionGate } from "../../session/session-gate.js";
import { type HttpCredential, httpCredentialProvider } from "./upstream.js";

/**
 * What an HTTP session is (docs/http.md, "Sessions"): one client connection (TCP/TLS socket), one token and one
 * Latch connection name. The first request on a keep-alive connection opens it through the SessionGate (token,
 * block list, credential, `session_start` on record); the following requests with the same token reuse it, so
 * a request costs its own operation event and nothing more. Another token on the same socket is another
 * session; a token that replaces the previous one for the same connection ends the old session. The session
 * ends when the socket closes. Kill, block, revoke and token expiry end it by closing the socket (requests in
 * flight get a problem response first when their headers are not out yet).
 */
export type HttpLiveSession = LiveSession<HttpCredential>;

/**
 * The client connection a session lives on: the TLS socket of an HTTP/1.1 client, or an HTTP/2 connection
 * (front-h2.ts). Ending it ends every session on it.
 */
export interface ClientConnection {
  readonly destroyed: boolean;
  once(event: "close", listener: () => void): unknown;
  /** Ends it gracefully: HTTP/1.1 closes after the queued answers; HTTP/2 sends GOAWAY, open streams finish. */
  end(): void;
  /** Ends it now: HTTP/2 resets the streams still open. */
  destroy(): void;
}

/** Sessions one socket may carry at once (different connections or tokens); more is refused as abuse. */
const MAX_SESSIONS_PER_SOCKET = 8;

interface SocketSessions {
  /** By connection name: the token and the session (or its opening; `open` once it resolved). */
  readonly byConnection: Map<string, SessionEntry>;
  /** Requests running on the socket, whatever their session. */
  running: number;
  /**
   * Requests whose response has not started, for terminate(), oldest first: a list through the requests
   * themselves, since a Set that empties after every request reallocates its table each time.
   */
  firstPending: RunningRequest | undefined;
  lastPending: RunningRequest | undefined;
  draining: boolean;
}

interface SessionEntry {
  readonly token: string;
  readonly opening: Promise<HttpLiveSession>;
  open?: HttpLiveSession;
}

/** A request whose answer has not started: terminate() answers it with the session's end. */
export interface PendingAnswer {
  answerProblem(error: LatchError): void;
}

/** One request running in a session, from begin() until done(). */
export class RunningRequest {
  private finished = false;
  private listed = true;
  /** Neighbours in the socket's pending list while `listed`. */
  previous: RunningRequest | undefined;
  next: RunningRequest | undefined;

  constructor(
    private readonly sessions: SocketSessions,
    private readonly socket: ClientConnection,
    private readonly session: HttpLiveSession,
    readonly answer: PendingAnswer,
  ) {
    this.previous = sessions.lastPending;
    if (sessions.lastPending === undefined) sessions.firstPending = this;
    else sessions.lastPending.next = this;
    sessions.lastPending = this;
  }

  /** The answer started: terminate() no longer answers it. */
  started(): void {
    if (!this.listed) return;
    this.listed = false;
    const { sessions, previous, next } = this;
    if (previous === undefined) sessions.firstPending = next;
    else previous.next = next;
    if (next === undefined) sessions.lastPending = previous;
    else next.previous = previous;
    this.previous = undefined;
    this.next = undefined;
  }

  done(): void {
    if (this.finished) return;
    this.finished = true;
    this.started();
    const { sessions, session } = this;
    sessions.running -= 1;
    session.touch();
    if (sessions.draining && sessions.running === 0) this.socket.destroy();
  }
}

export class HttpSessions {
  private readonly sockets = new WeakMap<ClientConnection, SocketSessions>();

  constructor(
    private readonly deps: {
      readonly gate: SessionGate;
      readonly log: Logger;
    },
  ) {}

  /**
   * The session already open on this socket for the connection and token, without waiting: what every request
   * after the first on a keep-alive connection finds. Undefined when sessionFor() must decide.
   */
  current(
    socket: ClientConnection,
    connection: string,
    token: string | undefined,
  ): HttpLiveSession | undefined {
    if (token === undefined) return undefined;
    const known = this.sockets.get(socket)?.byConnection.get(connection);
    const open = known?.open;
    return open !== undefined && known!.token === token && !open.isEnded ? open : undefined;
  }

  /** The session this request belongs to, opened on first use; rejects with the gate's LatchError. */
  async sessionFor(
    socket: ClientConnection,
    request: { connection: string; token: string | undefined; clientAddress: string },
  ): Promise<HttpLiveSession> {
    const sessions = this.socketSessions(socket);
    const known = sessions.byConnection.get(request.connection);
    if (known !== undefined && request.token !== undefined && known.token === request.token) {
      const session = await known.opening;
      if (!session.isEnded) return session;
    }
    if (known !== undefined) {
      sessions.byConnection.delete(request.connection);
      known.opening.then(
        (old) => old.end("the client sent another token"),
        () => undefined,
      );
    }
    if (sessions.byConnection.size >= MAX_SESSIONS_PER_SOCKET) {
      const oldest = sessions.byConnection.keys().next().value as string;
      const evicted = sessions.byConnection.get(oldest);
      sessions.byConnection.delete(oldest);
      evicted?.opening.then(
        (old) => old.end("too many sessions on one client connection"),
        () => undefined,
      );
    }
    const opening = this.deps.gate
      .open({
        protocol: "http",
        connectionType: "http",
        connectionName: request.connection,
        token: request.token,
        clientAddress: request.clientAddress,
        tls: true,
        credentials: (name, connection: HttpConnectionConfig) => httpCredentialProvider(name, connection),
      })
      .then(({ session }) => {
        session.attach(this.terminatorFor(socket, session));
        if (socket.destroyed) session.end("client disconnected");
        return session;
      });
    if (request.token !== undefined) {
      const entry: SessionEntry = { token: request.token, opening };
      sessions.byConnection.set(request.connection, entry);
      opening.then(
        (session) => {
          entry.open = session;
        },
        () => undefined,
      );
    }
    opening.catch(() => {
      if (sessions.byConnection.get(request.connection)?.opening === opening)
        sessions.byConnection.delete(request.connection);
    });
    return opening;
  }

  /** Marks a request of `session` running until the returned request's done(). */
  begin(socket: ClientConnection, session: HttpLiveSession, answer: PendingAnswer): RunningRequest {
    const sessions = this.socketSessions(socket);
    sessions.running += 1;
    session.touch();
    return new RunningRequest(sessions, socket, session, answer);
  }

  private socketSessions(socket: ClientConnection): SocketSessions {
    let sessions = this.sockets.get(socket);
    if (sessions === undefined) {
      const created: SocketSessions = {
        byConnection: new Map(),
        running: 0,
        firstPending: undefined,
        lastPending: undefined,
        draining: false,
      };
      sessions = created;
      this.sockets.set(socket, created);
      socket.once("close", () => {
        for (const { opening } of created.byConnection.values())
          opening.then(
            (session) => session.end("client disconnected"),
            () => undefined,
          );
        created.byConnection.clear();
      });
    }
    return sessions;
  }

  private terminatorFor(socket: ClientConnection, session: HttpLiveSession): SessionTerminator {
    const sessions = this.socketSessions(socket);
    return {
      terminate: (error, reason) => {
        this.deps.log.info({ session: session.id, reason }, "http session ended by the gateway");
        const answers: PendingAnswer[] = [];
        for (let at = sessions.firstPending; at !== undefined; at = at.next) answers.push(at.answer);
        for (const answer of answers) {
          try {
            answer.answerProblem(error);
          } catch (failure) {
            this.deps.log.debug({ err: asLatchError(failure, session.id) }, "could not answer a request");
          }
        }
        // The answers above are queued on the socket; ending it flushes them, then it closes.
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      },
      drain: () => {
        sessions.draining = true;
        if (sessions.running === 0) socket.destroy();
      },
    };
  }
}
