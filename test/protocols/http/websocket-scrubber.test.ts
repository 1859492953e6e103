import { describe, expect, it } from "vitest";
import { SCRUBBED } from "../../../src/protocols/http/secret-scrubber.js";
import { WebSocketScrubber } from "../../../src/protocols/http/websocket-scrubber.js";

// The upstream side of a relayed WebSocket, fed split at every byte offset: the injected secret never comes
// out, what cannot be read is refused. Frames here are built by hand (naive builder, not the encoder).
const SECRET = "Key s3cr3t-upstream-0123";
const HEAD = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";

function naiveFrame(first: number, payload: string): Buffer {
  const bytes = Buffer.from(payload);
  if (bytes.length > 125) throw new Error("naive builder: small frames only");
  return Buffer.concat([Buffer.from([first, bytes.length]), bytes]);
}

/** Unframes the scrubber's output (unmasked frames, lengths < 65536) into [opcode, text] pairs after the head. */
function readOut(out: Buffer): { head: string; frames: [number, string][] } {
  const end = out.indexOf("\r\n\r\n") + 4;
  const frames: [number, string][] = [];
  let at = end;
  while (at < out.length) {
    expect(out[at]! & 0x80).toBe(0x80); // always FIN: messages come out whole
    let length = out[at + 1]! & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      length = out.readUInt16BE(at + 2);
      offset = at + 4;
    }
    frames.push([out[at]! & 0x0f, out.subarray(offset, offset + length).toString()]);
    at = offset + length;
  }
  return { head: out.subarray(0, end).toString(), frames };
}

function feedSplit(bytes: Buffer, at: number, limit = 1024) {
  const scrubber = new WebSocketScrubber([SECRET, "s3cr3t-upstream-0123"], limit);
  const out: Buffer[] = [];
  for (const piece of [bytes.subarray(0, at), bytes.subarray(at)]) {
    const result = scrubber.push(piece);
    if (!result.ok) return { refused: result.reason };
    out.push(...result.out);
  }
  return { out: Buffer.concat(out) };
}

describe("WebSocketScrubber", () => {
  const stream = Buffer.concat([
    Buffer.from(`${HEAD}X-Echo-Key: ${SECRET}\r\n\r\n`),
    naiveFrame(0x01, `first half ${SECRET.slice(0, 9)}`), // text, not FIN
    naiveFrame(0x89, SECRET), // a ping between fragments, itself reflecting the secret
    naiveFrame(0x80, `${SECRET.slice(9)} second half`), // continuation, FIN
    naiveFrame(0x82, `bin ${SECRET}`),
    naiveFrame(0x88, `\u0003\u00e8bye ${SECRET}`),
  ]);

  it("scrubs the 101 headers, fragmented messages, binary and control frames, at every split", () => {
    for (let at = 0; at <= stream.length; at++) {
      const result = feedSplit(stream, at);
      expect(result.refused).toBeUndefined();
      const text = result.out!.toString("latin1");
      expect(text).not.toContain("s3cr3t");
      const { head, frames } = readOut(result.out!);
      expect(head).toContain(`X-Echo-Key: ${SCRUBBED}`);
      expect(frames.map(([op]) => op)).toEqual([0x9, 0x1, 0x2, 0x8]);
      expect(frames[1]![1]).toBe(`first half ${SCRUBBED} second half`);
      expect(frames[0]![1]).toBe(SCRUBBED);
    }
  });

  it("passes frames without a secret unchanged in content", () => {
    const result = feedSplit(
      Buffer.concat([Buffer.from(`${HEAD}\r\n`), naiveFrame(0x81, "hello"), naiveFrame(0x8a, "")]),
      HEAD.length + 3,
    );
    expect(readOut(result.out!).frames).toEqual([
      [0x1, "hello"],
      [0xa, ""],
    ]);
  });

  it("refuses what it cannot read instead of passing it", () => {
    const head = Buffer.from(`${HEAD}\r\n`);
    const refused = (bytes: Buffer, limit?: number) => feedSplit(bytes, bytes.length, limit).refused;
    expect(refused(Buffer.concat([head, naiveFrame(0xc1, "zz")]))).toContain("RSV");
    expect(refused(Buffer.concat([head, Buffer.from([0x81, 0x82, 1, 2, 3, 4, 5, 6])]))).toContain("masked");
    expect(refused(Buffer.concat([head, naiveFrame(0x83, "x")]))).toContain("opcode");
    expect(refused(Buffer.concat([head, naiveFrame(0x80, "x")]))).toContain("continuation");
    expect(refused(Buffer.concat([head, naiveFrame(0x01, "a"), naiveFrame(0x81, "b")]))).toContain("inside");
    expect(refused(Buffer.concat([head, naiveFrame(0x09, "x")]))).toContain("control");
    // A declared length over the limit is refused before its payload is waited for.
    expect(refused(Buffer.concat([head, Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0])]), 1024)).toContain(
      "inspect_limit",
    );
    expect(
      refused(
        Buffer.concat([head, naiveFrame(0x01, "x".repeat(100)), naiveFrame(0x80, "y".repeat(100))]),
        150,
      ),
    ).toContain("inspect_limit");
    expect(refused(Buffer.from(`${HEAD}Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n`))).toContain(
      "extension",
    );
    expect(refused(Buffer.from(`HTTP/1.1 403 Forbidden\r\nX-Echo-Key: ${SECRET}\r\n\r\nno`))).toContain(
      "403",
    );
    expect(refused(Buffer.from(`HTTP/1.1 101 ok\r\n${"x".repeat(40_000)}`))).toContain("too large");
  });
});
