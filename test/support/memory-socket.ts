import { Duplex } from "node:stream";

/**
 * One end of an in-memory connection, as the code under test sees its socket: `send()` is what the peer
 * sent (it arrives as "data"), `written` is everything the code wrote, `ended` says whether it ended its side.
 */
export class MemorySocket extends Duplex {
  readonly written: Buffer[] = [];
  ended = false;

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.written.push(Buffer.from(chunk));
    done();
  }

  override _final(done: (error?: Error | null) => void): void {
    this.ended = true;
    done();
  }

  /** Bytes from the peer. */
  send(...chunks: Buffer[]): void {
    for (const chunk of chunks) this.push(chunk);
  }

  /** Everything written so far, as one buffer. */
  output(): Buffer {
    return Buffer.concat(this.written);
  }

  /** Forgets what was written so far (to look only at what comes next). */
  clear(): void {
    this.written.length = 0;
  }
}

/** Lets stream events and promise callbacks run: a few turns of the event loop, no timers. */
export async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
