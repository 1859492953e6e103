import { LatchError } from "../errors.js";

/** One admitted client connection: report when its handshake is over and when it closes (both idempotent). */
export interface ConnectionTicket {
  handshakeDone(): void;
  closed(): void;
}

/**
 * What a listener lets in before anyone has authenticated: at most `maxConnections` open connections, and at
 * most `maxHandshakesPerAddress` of them from one address still in their handshake, so one source cannot hold
 * every slot with connections that never finish logging in. A refusal is a LatchError the protocol renders
 * (PostgreSQL: 53300) instead of a silent reset.
 */
export class ConnectionLimits {
  private open = 0;
  private readonly handshaking = new Map<string, number>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxHandshakesPerAddress: number,
  ) {}

  admit(address: string): { ticket: ConnectionTicket } | { refusal: LatchError } {
    if (this.open >= this.maxConnections)
      return { refusal: new LatchError("too_many_connections", { limit: this.maxConnections }) };
    const pending = this.handshaking.get(address) ?? 0;
    if (pending >= this.maxHandshakesPerAddress)
      return {
        refusal: new LatchError("too_many_handshakes", { address, limit: this.maxHandshakesPerAddress }),
      };
    this.open += 1;
    this.handshaking.set(address, pending + 1);
    let inHandshake = true;
    let open = true;
    const handshakeDone = () => {
      if (!inHandshake) return;
      inHandshake = false;
      const left = (this.handshaking.get(address) ?? 1) - 1;
      if (left <= 0) this.handshaking.delete(address);
      else this.handshaking.set(address, left);
    };
    return {
      ticket: {
        handshakeDone,
        closed: () => {
          handshakeDone();
          if (!open) return;
          open = false;
          this.open -= 1;
        },
      },
    };
  }

  get openConnections(): number {
    return this.open;
  }
}
