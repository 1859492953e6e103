import type { Duplex } from "node:stream";
import { LatchError } from "../../errors.js";
import { copyFrame } from "./frame-copy.js";
import { FrameReader } from "./frame-reader.js";
import type { Frame } from "./messages.js";

/** The client went away during the handshake: a probe or a scanner as often as a real client, not an error. */
export class HandshakeClosed extends Error {
  constructor() {
    super("connection closed during handshake");
  }
}

/** No complete message within the time the handshake had left. */
export class HandshakeTimeout extends Error {}

/**
 * Awaitable frames for the short handshake phase (startup, TLS negotiation, authentication). Frames are
 * copied out, since awaits happen between them. Once the handshake is done, `release()` detaches from the
 * socket and hands the FrameReader (with any bytes that arrived early) to the session.
 */
export class HandshakeReader {
  private readonly frames: FrameReader;
  private waiter: { resolve: (frame: Frame) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    try {
      this.frames.push(chunk);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    const type = this.frames.peekType();
    if (this.requiredType !== undefined && type !== undefined && type !== this.requiredType) {
      // Refuse at the first byte instead of waiting for a body whose length an attacker chose.
      this.fail(new LatchError("protocol_violation", { reason: this.requiredReason }));
      return;
    }
    this.wake();
  };
  private requiredType: number | undefined;
  private requiredReason = "";
  private readonly onEnd = () => this.fail(new HandshakeClosed());
  private readonly onError = (error: Error) => this.fail(error);

  constructor(
    private readonly socket: Duplex,
    options: { maxFrameBytes: number; startup: boolean },
  ) {
    this.frames = new FrameReader(options);
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("close", this.onEnd);
    socket.on("error", this.onError);
  }

  /** Bytes received but not yet consumed: must be zero when switching to TLS (no pre-TLS injection). */
  get buffered(): number {
    return this.frames.buffered;
  }

  expectTyped(): void {
    this.frames.expectTyped();
  }

  /** The next message must have this type byte (e.g. the password); anything else fails at its first byte. */
  requireNextType(type: number, reason: string): void {
    this.requiredType = type;
    this.requiredReason = reason;
    const next = this.frames.peekType();
    if (next !== undefined && next !== type) this.fail(new LatchError("protocol_violation", { reason }));
  }

  next(timeoutMs: number): Promise<Frame> {
    const ready = this.tryTake();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new HandshakeTimeout(`no message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** Stops listening and returns the reader holding any unconsumed bytes. */
  release(): FrameReader {
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.off("close", this.onEnd);
    this.socket.off("error", this.onError);
    return this.frames;
  }

  private tryTake(): Frame | undefined {
    const frame = this.frames.next();
    if (frame === undefined) return undefined;
    // The requirement was for that one message; what follows (a pipelined first query) is the session's.
    this.requiredType = undefined;
    return copyFrame(frame);
  }

  private wake(): void {
    if (this.waiter === undefined) return;
    let frame: Frame | undefined;
    try {
      frame = this.tryTake();
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    if (frame === undefined) return;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter.resolve(frame);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }
}
