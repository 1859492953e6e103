import { Readable } from "node:stream";
import { type Dispatcher, errors as undiciErrors, util } from "undici";
import { LatchError } from "../../errors.js";

/** Response headers by lower-case name (a repeated name: its values in order). */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * How much of the body to read whole, decided once the status and headers are known: a byte cap (the body is
 * then a Buffer, or null when it is larger), or undefined for a stream.
 */
export type WholeBodyCap = (status: number, headers: ResponseHeaders) => number | undefined;

export interface UpstreamAnswer {
  readonly status: number;
  readonly headers: ResponseHeaders;
  /** Read whole (the cap asked for it): the bytes, or null when larger than the cap (the request is aborted); else a stream. */
  readonly body: Buffer | Readable | null;
}

/** Who hears how one upstream exchange went, once: its answer, or upstream_unavailable. */
export interface UpstreamReceiver {
  upstreamAnswered(answer: UpstreamAnswer): void;
  upstreamFailed(error: LatchError): void;
}

/** The exchanges in flight under one caller signal: a list through the handlers themselves (see watch). */
interface Watched {
  first: AnswerHandler | undefined;
}

/**
 * The exchanges in flight under each caller signal, with one abort listener per signal rather than one per
 * request (an HTTP/1.1 signal belongs to the client connection and outlives its requests: front.ts). A list
 * through the handlers, not a Set: a Set that holds one handler and empties after every request reallocates
 * its table each time.
 */
const inFlight = new WeakMap<AbortSignal, Watched>();

function watch(signal: AbortSignal, handler: AnswerHandler): Watched {
  let watched = inFlight.get(signal);
  if (watched === undefined) {
    const list: Watched = { first: undefined };
    watched = list;
    inFlight.set(signal, list);
    signal.addEventListener(
      "abort",
      () => {
        // Collected first: aborting one may settle (and unlist) others.
        const handlers: AnswerHandler[] = [];
        for (let at = list.first; at !== undefined; at = at.nextWatched) handlers.push(at);
        list.first = undefined;
        for (const one of handlers) one.callerAborted();
      },
      { once: true },
    );
  }
  const first = watched.first;
  handler.nextWatched = first;
  if (first !== undefined) first.previousWatched = handler;
  watched.first = handler;
  return watched;
}

/** A streamed body: undici pauses when it is full and resumes when it is read; destroying it aborts the request. */
class StreamedBody extends Readable {
  constructor(private readonly handler: AnswerHandler) {
    super();
  }

  override _read(): void {
    this.handler.resumeUpstream();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.handler.abandon(error ?? new Error("the response body was dropped"));
    callback(error);
  }
}

/**
 * One upstream exchange as an undici dispatch handler: a body the cap asks for is collected straight into a
 * Buffer (no body stream, no promise per read, no listeners), anything else is a Readable with backpressure.
 * The caller's abort signal aborts the request (one listener, the handler itself, removed when it settles).
 */
export class AnswerHandler implements Dispatcher.DispatchHandler {
  private abortRequest: ((reason?: Error) => void) | undefined;
  private abortReason: Error | undefined;
  private resume: (() => void) | undefined;
  private status = 0;
  private headers: ResponseHeaders = {};
  private cap = -1;
  private chunks: Buffer[] | undefined;
  private size = 0;
  private stream: StreamedBody | undefined;
  private settled = false;
  private finished = false;
  /** The list of its caller signal while in flight (watch), and its neighbours there. */
  private watched: Watched | undefined;
  previousWatched: AnswerHandler | undefined;
  nextWatched: AnswerHandler | undefined;

  constructor(
    /** Gets the answer, or upstream_unavailable (upstreamError) made here. */
    private readonly receiver: UpstreamReceiver,
    /** The connection's name, for the upstream_unavailable it rejects with. */
    private readonly upstreamName: string,
    private readonly wholeUpTo: WholeBodyCap,
    private readonly signal: AbortSignal | undefined,
    /** A streamed request body: destroyed when the exchange fails (as undici's request API does). */
    private readonly requestBody: Readable | undefined,
  ) {
    if (signal === undefined) return;
    if (signal.aborted) this.abortReason = abortReasonOf(signal);
    else this.watched = watch(signal, this);
  }

  /** The caller's signal aborted. */
  callerAborted(): void {
    const reason = abortReasonOf(this.signal!);
    this.abortReason = reason;
    if (this.stream !== undefined) this.stream.destroy(reason);
    else this.abortRequest?.(reason);
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.abortReason !== undefined) abort(this.abortReason);
    else this.abortRequest = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (status < 200) return true; // 1xx: informational, the answer follows
    this.status = status;
    this.headers = headersOf(rawHeaders);
    this.resume = resume;
    const cap = this.wholeUpTo(status, this.headers);
    if (cap !== undefined) {
      this.cap = cap;
      this.chunks = [];
      return true;
    }
    const stream = new StreamedBody(this);
    this.stream = stream;
    // The receiver starts reading the stream: not from inside the parser's callback, on the next microtask.
    queueMicrotask(() => this.settle({ status, headers: this.headers, body: stream }));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stream !== undefined) return this.stream.push(chunk);
    if (this.chunks === undefined) return false; // over the cap: the request is being aborted
    this.size += chunk.length;
    if (this.size > this.cap) {
      this.chunks = undefined;
      this.settle({ status: this.status, headers: this.headers, body: null });
      // Not from inside the parser's callback: on the next microtask.
      queueMicrotask(() => this.abandon(new Error("the response body is larger than Latch reads")));
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  /**
   * A body read whole is settled here, in undici's callback: the receiver answers its caller at once (no
   * promise or turn in between). Released first, so a caller abort that this answer causes does not reach it.
   */
  onComplete(): void {
    this.finished = true;
    this.release();
    if (this.stream !== undefined) this.stream.push(null);
    else if (this.chunks !== undefined) {
      const chunks = this.chunks;
      this.chunks = undefined;
      const body =
        chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, chunks.length === 0 ? 0 : this.size);
      this.settle({ status: this.status, headers: this.headers, body });
    }
  }

  onError(error: Error): void {
    this.finished = true;
    this.chunks = undefined;
    this.release();
    const sent = this.requestBody;
    if (sent !== undefined && !sent.destroyed) {
      sent.on("error", ignore);
      sent.destroy(error);
    }
    if (!this.settled) {
      this.settled = true;
      // A stream made but not yet handed over (settle waits a microtask): nobody will read it.
      this.stream?.destroy();
      this.receiver.upstreamFailed(upstreamError(this.upstreamName, error));
    } else if (this.stream !== undefined && !this.stream.destroyed) this.stream.destroy(error);
  }

  /** The stream was read from: let undici go on if it paused. */
  resumeUpstream(): void {
    this.resume?.();
  }

  /** Nobody reads the rest: the request is aborted (a no-op once it completed). */
  abandon(reason: Error): void {
    if (this.finished) return;
    if (this.abortRequest !== undefined) this.abortRequest(reason);
    else this.abortReason = reason;
  }

  private settle(answer: UpstreamAnswer): void {
    if (this.settled) return;
    this.settled = true;
    this.receiver.upstreamAnswered(answer);
  }

  private release(): void {
    const watched = this.watched;
    if (watched === undefined) return;
    this.watched = undefined;
    const { previousWatched: previous, nextWatched: next } = this;
    if (previous === undefined) {
      if (watched.first === this) watched.first = next;
    } else previous.nextWatched = next;
    if (next !== undefined) next.previousWatched = previous;
    this.previousWatched = undefined;
    this.nextWatched = undefined;
  }
}

function ignore(): void {}

function abortReasonOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("the request was aborted");
}

/**
 * undici's raw pairs as an object, exactly as its request API gives them (its own parseHeaders: known names
 * are interned lower-case strings, values latin1, a repeated name an array).
 */
function headersOf(raw: Buffer[]): ResponseHeaders {
  return util.parseHeaders(raw) as ResponseHeaders;
}

/** An upstream failure as the caller hears it: upstream_unavailable, with the cause kept. */
export function upstreamError(name: string, error: unknown): LatchError {
  const reason =
    error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.ConnectTimeoutError
      ? "it did not answer in time"
      : ((error as NodeJS.ErrnoException).code ?? (error as Error).message ?? "error");
  return new LatchError(
    "upstream_unavailable",
    { name, reason: String(reason).slice(0, 200) },
    { cause: error },
  );
}
