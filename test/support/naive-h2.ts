import tls from "node:tls";

/**
 * A deliberately naive HTTP/2 client for bypass tests: it sends header blocks no real client would (upper-case
 * names, connection headers, repeated or odd pseudo-headers, floods), so what Latch and Node's HTTP/2 layer do
 * with them can be checked. HPACK here is literal fields without indexing and without Huffman coding only
 * (RFC 7541 6.2.2), which every decoder must accept. Frames are built by hand, kept apart from any encoder.
 */
export type RawHeader = readonly [string, string];

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, GOAWAY: 7, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, END_HEADERS: 0x4, ACK: 0x1 } as const;

export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK integer with an n-bit prefix (RFC 7541 5.1). */
function integer(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const bytes = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

function literal(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  return Buffer.concat([integer(bytes.length, 7, 0x00), bytes]);
}

/** A header block of literal fields, in the order given (pseudo-headers where the caller puts them). */
export function headerBlock(headers: readonly RawHeader[]): Buffer {
  return Buffer.concat(
    headers.flatMap(([name, value]) => [Buffer.from([0x00]), literal(name), literal(value)]),
  );
}

export interface StreamOutcome {
  /** The first byte of the response header block (0x88 is :status 200, 0x8c 400, 0x8d 404 in HPACK's table). */
  readonly headerByte?: number;
  readonly data: Buffer;
  readonly resetCode?: number;
}

export interface NaiveH2 {
  send(bytes: Buffer): void;
  /** Resolves when the stream ended (END_STREAM, RST_STREAM, GOAWAY or the connection closing). */
  outcome(stream: number): Promise<StreamOutcome>;
  /** The GOAWAY error code once received, or undefined while none came. */
  readonly goaway: number | undefined;
  readonly closed: Promise<void>;
  /** Resolves on GOAWAY or when the connection closes, whichever comes first. */
  readonly ended: Promise<void>;
  close(): void;
}

export async function connectNaiveH2(port: number, ca: Buffer): Promise<NaiveH2> {
  const socket = tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost", ALPNProtocols: ["h2"] });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", () => resolve());
    socket.once("error", reject);
  });
  if (socket.alpnProtocol !== "h2") throw new Error(`ALPN chose ${String(socket.alpnProtocol)}, not h2`);
  socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
  const streams = new Map<
    number,
    { headerByte?: number; data: Buffer[]; resetCode?: number; done: boolean }
  >();
  const waiters = new Map<number, () => void>();
  let goaway: number | undefined;
  let endedNow: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => {
    endedNow = resolve;
  });
  let buffered = Buffer.alloc(0);
  const stateOf = (id: number) => {
    let state = streams.get(id);
    if (state === undefined) {
      state = { data: [], done: false };
      streams.set(id, state);
    }
    return state;
  };
  const finish = (id: number) => {
    stateOf(id).done = true;
    waiters.get(id)?.();
  };
  const finishAll = () => {
    for (const id of waiters.keys()) finish(id);
  };
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      const type = buffered[3]!;
      const flags = buffered[4]!;
      const id = buffered.readUInt32BE(5) & 0x7fffffff;
      const payload = buffered.subarray(9, 9 + length);
      buffered = buffered.subarray(9 + length);
      if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0)
        socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      if (type === FRAME.HEADERS) {
        stateOf(id).headerByte ??= payload[0];
        if (flags & FLAG.END_STREAM) finish(id);
      }
      if (type === FRAME.DATA) {
        stateOf(id).data.push(Buffer.from(payload));
        if (flags & FLAG.END_STREAM) finish(id);
      }
      if (type === FRAME.RST_STREAM) {
        stateOf(id).resetCode = payload.readUInt32BE(0);
        finish(id);
      }
      if (type === FRAME.GOAWAY) {
        goaway = payload.readUInt32BE(4);
        finishAll();
        endedNow();
      }
    }
  });
  const closed = new Promise<void>((resolve) => {
    socket.once("close", () => {
      finishAll();
      endedNow();
      resolve();
    });
  });
  socket.on("error", () => undefined);
  return {
    send: (bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    },
    outcome: (id) =>
      new Promise((resolve) => {
        const settle = () => {
          const state = stateOf(id);
          resolve({
            ...(state.headerByte === undefined ? {} : { headerByte: state.headerByte }),
            data: Buffer.concat(state.data),
            ...(state.resetCode === undefined ? {} : { resetCode: state.resetCode }),
          });
        };
        if (stateOf(id).done || socket.destroyed) return settle();
        waiters.set(id, settle);
      }),
    get goaway() {
      return goaway;
    },
    closed,
    ended,
    close: () => socket.destroy(),
  };
}

/** HEADERS (END_HEADERS, and END_STREAM unless a body follows) for one request on stream `id`. */
export function requestFrame(id: number, headers: readonly RawHeader[], endStream = true): Buffer {
  return frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), id, headerBlock(headers));
}
