import { StringDecoder } from "node:string_decoder";

/**
 * Records one SSH channel as asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a header, then
 * [seconds, code, data] events; "o" output (stdout and stderr, as a terminal shows them), "i" input typed by
 * the client, "r" resize ("COLSxROWS"). Events are written to the audit store in bounded chunks, each one
 * audit event of kind RECORDING_EVENT_KIND, so a recording is tamper-evident like everything else.
 */

/** Proposed audit event kind (store.ts AUDIT_EVENT_KINDS): one chunk of an asciicast v2 recording. */
export const RECORDING_EVENT_KIND = "session_recording" as const;

export interface AsciicastHeader {
  readonly version: 2;
  readonly width: number;
  readonly height: number;
  /** Unix seconds. */
  readonly timestamp: number;
  readonly command?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export type AsciicastCode = "o" | "i" | "r" | "m";
export type AsciicastEvent = readonly [number, AsciicastCode, string];

/** The `data` of one recording audit event. */
export interface RecordingChunk {
  readonly format: "asciicast-v2";
  /** Channel within the session, so one SSH connection's channels replay apart. */
  readonly recording: number;
  /** 0-based chunk number within the recording; chunk 0 holds the header. */
  readonly chunk: number;
  readonly header?: AsciicastHeader;
  readonly events: readonly AsciicastEvent[];
  /** Set on the chunk where the byte cap was reached; later output is not recorded. */
  readonly truncated?: true;
}

export interface RecorderOptions {
  readonly recording: number;
  readonly header: Omit<AsciicastHeader, "version" | "timestamp">;
  /** Durable append of one chunk; rejects when the store cannot write (the channel then fails closed). */
  readonly write: (chunk: RecordingChunk) => Promise<void>;
  /** Called once when a chunk could not be written; the owner must stop the channel. */
  readonly onFailure: (error: unknown) => void;
  /** Masking of output before it is recorded (masking profiles); identity when absent. */
  readonly maskOutput?: (text: string) => string;
  readonly maxChunkBytes?: number;
  readonly flushIntervalMs?: number;
  readonly maxRecordingBytes?: number;
  readonly now?: () => number;
}

const DEFAULT_CHUNK_BYTES = 16 * 1024;
const DEFAULT_FLUSH_MS = 1000;
const DEFAULT_MAX_RECORDING_BYTES = 32 * 1024 * 1024;
/** Chunks on their way to the store before the relay stops reading the target (bounds memory). */
const MAX_CHUNKS_IN_FLIGHT = 4;

export class AsciicastRecorder {
  private readonly started: number;
  private readonly decoders = {
    stdout: new StringDecoder("utf8"),
    stderr: new StringDecoder("utf8"),
    input: new StringDecoder("utf8"),
  };
  private pending: AsciicastEvent[] = [];
  private pendingBytes = 0;
  private recordedBytes = 0;
  private chunkNumber = 0;
  private timer: NodeJS.Timeout | undefined;
  private truncated = false;
  private closed = false;
  private failed = false;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  /** Resolves once the header is durable; rejects if it cannot be written (then nothing may run). */
  readonly ready: Promise<void>;
  private readonly maxChunkBytes: number;
  private readonly maxEventChars: number;
  private readonly maxRecordingBytes: number;
  private readonly now: () => number;

  /** Sends the header chunk at once: a recording that cannot start means the channel must not run. */
  constructor(private readonly options: RecorderOptions) {
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    this.maxChunkBytes = options.maxChunkBytes ?? DEFAULT_CHUNK_BYTES;
    // A UTF-8 character is at most 4 bytes: events this long stay within one chunk.
    this.maxEventChars = Math.max(1, Math.floor(this.maxChunkBytes / 4));
    this.maxRecordingBytes = options.maxRecordingBytes ?? DEFAULT_MAX_RECORDING_BYTES;
    this.ready = this.send({
      format: "asciicast-v2",
      recording: options.recording,
      chunk: this.chunkNumber++,
      header: { version: 2, timestamp: Math.floor(Date.now() / 1000), ...options.header },
      events: [],
    });
    // The owner awaits `ready`; failures also reach onFailure, so this copy needs no handler of its own.
    this.ready.catch(() => {});
  }

  /**
   * A promise while too many chunks are still being written: the relay waits on it before reading more from
   * the target, so a slow store slows the command instead of growing memory. Undefined when there is room.
   */
  backlog(): Promise<void> | undefined {
    if (this.inFlight < MAX_CHUNKS_IN_FLIGHT || this.failed) return undefined;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  output(data: Buffer, stream: "stdout" | "stderr"): void {
    const text = this.decoders[stream].write(data);
    if (text !== "")
      this.add("o", this.options.maskOutput === undefined ? text : this.options.maskOutput(text));
  }

  input(data: Buffer): void {
    const text = this.decoders.input.write(data);
    if (text !== "") this.add("i", text);
  }

  resize(cols: number, rows: number): void {
    this.add("r", `${cols}x${rows}`);
  }

  /** Sends whatever is buffered. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    void this.send({
      format: "asciicast-v2",
      recording: this.options.recording,
      chunk: this.chunkNumber++,
      events,
      ...(this.truncated ? { truncated: true as const } : {}),
    }).catch(() => {});
  }

  private send(chunk: RecordingChunk): Promise<void> {
    this.inFlight += 1;
    const release = () => {
      this.inFlight -= 1;
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    };
    return this.options.write(chunk).then(release, (error: unknown) => {
      release();
      if (!this.failed) {
        this.failed = true;
        this.closed = true;
        this.options.onFailure(error);
      }
      throw error;
    });
  }

  /** Final flush, including partial UTF-8 sequences still held by the decoders. */
  close(): void {
    if (this.closed) return;
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = this.decoders[stream].end();
      if (rest !== "") this.add("o", rest);
    }
    const input = this.decoders.input.end();
    if (input !== "") this.add("i", input);
    this.closed = true;
    this.flush();
  }

  private add(code: AsciicastCode, text: string): void {
    if (this.closed || this.truncated) return;
    const seconds = Math.round(this.now() - this.started) / 1000;
    for (let offset = 0; offset < text.length; offset += this.maxEventChars) {
      const piece = text.slice(offset, offset + this.maxEventChars);
      const bytes = Buffer.byteLength(piece);
      if (this.recordedBytes + bytes > this.maxRecordingBytes) {
        this.truncated = true;
        this.pending.push([seconds, "m", "recording truncated: size limit reached"]);
        this.flush();
        return;
      }
      if (this.pendingBytes + bytes > this.maxChunkBytes) this.flush();
      this.pending.push([seconds, code, piece]);
      this.pendingBytes += bytes;
      this.recordedBytes += bytes;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.options.flushIntervalMs ?? DEFAULT_FLUSH_MS);
      this.timer.unref();
    }
  }
}
