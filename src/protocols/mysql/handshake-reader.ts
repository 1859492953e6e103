/**
 * Awaits whole messages from a socket during the connection phase (before the session relays bytes). Bytes past
 * the last message stay in the PacketReader, which the session takes over with release().
 */
import type { Duplex } from "node:stream";
import { LatchError } from "../../errors.js";
import { type MysqlMessage, PacketReader } from "./packet-reader.js";

export class HandshakeClosed extends Error {}

export class MysqlHandshakeReader {
  readonly packets: PacketReader;
  private waiting: { resolve: () => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => {
    try {
      this.packets.push(Buffer.from(chunk));
    } catch (error) {
      this.failure = error as Error;
    }
    this.wake();
  };
  private readonly onEnd = () => {
    this.failure ??= new HandshakeClosed("the peer closed the connection during the handshake");
    this.wake();
  };
  private readonly onError = (error: Error) => {
    this.failure ??= error;
    this.wake();
  };

  constructor(
    private readonly socket: Duplex,
    maxMessageBytes: number,
  ) {
    this.packets = new PacketReader({ maxMessageBytes });
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("close", this.onEnd);
    socket.on("error", this.onError);
  }

  async next(timeoutMs: number): Promise<MysqlMessage> {
    for (;;) {
      const message = this.packets.next();
      if (message !== undefined)
        return { ...message, payload: Buffer.from(message.payload), raw: Buffer.from(message.raw) };
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new LatchError("protocol_violation", { reason: "handshake timed out" })),
          Math.max(1, timeoutMs),
        );
        this.waiting = {
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject,
        };
      });
    }
  }

  /** Stops listening; the caller takes the PacketReader (and any bytes it holds) over. */
  release(): PacketReader {
    this.socket.off("data", this.onData);
    this.socket.off("end", this.onEnd);
    this.socket.off("close", this.onEnd);
    this.socket.off("error", this.onError);
    return this.packets;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.resolve();
  }
}
