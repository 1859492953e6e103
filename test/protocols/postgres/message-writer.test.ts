import { describe, expect, it } from "vitest";
import { MessageWriter, UnencodableValue } from "../../../src/protocols/postgres/message-writer.js";
import { cstr, int16, int32, toBuffer, typed, untyped } from "../../support/naive-pg-bytes.js";

describe("MessageWriter", () => {
  it("reserves the header and fills the length at end(), for several messages in one buffer", () => {
    const writer = new MessageWriter(4); // tiny on purpose: every write grows the buffer
    writer.begin(0x51).cstring("SELECT 1", "sql").end();
    writer.begin(0x53).end();
    writer.begin(undefined).int32(80877103).end();
    expect(writer.finish().toString("hex")).toBe(
      toBuffer([...typed("Q", cstr("SELECT 1")), ...typed("S"), ...untyped(int32(80877103))]).toString("hex"),
    );
  });

  it("writes signed and unsigned integers at their widths", () => {
    const bytes = new MessageWriter()
      .begin(0x78)
      .uint8(255)
      .int16(-1)
      .uint16(65535)
      .int32(-2)
      .uint32(4294967295)
      .end()
      .finish();
    expect(bytes.toString("hex")).toBe(
      toBuffer(typed("x", [255], int16(-1), int16(65535), int32(-2), [0xff, 0xff, 0xff, 0xff])).toString(
        "hex",
      ),
    );
  });

  it.each([
    ["uint8 256", (w: MessageWriter) => w.uint8(256)],
    ["uint16 -1", (w: MessageWriter) => w.uint16(-1)],
    ["uint16 65536", (w: MessageWriter) => w.uint16(65536)],
    ["int16 32768", (w: MessageWriter) => w.int16(32768)],
    ["int32 2^31", (w: MessageWriter) => w.int32(2 ** 31)],
    ["int32 NaN", (w: MessageWriter) => w.int32(Number.NaN)],
    ["uint32 2^32", (w: MessageWriter) => w.uint32(2 ** 32)],
    ["cstring with NUL", (w: MessageWriter) => w.cstring("a\0", "name")],
  ])("refuses %s", (_name, write) => {
    expect(() => write(new MessageWriter().begin(0x78))).toThrow(UnencodableValue);
  });

  it("refuses to finish with a message open, or to nest messages", () => {
    expect(() => new MessageWriter().begin(0x51).finish()).toThrow(/still open/);
    expect(() => new MessageWriter().begin(0x51).begin(0x51)).toThrow(/while a message is open/);
    expect(() => new MessageWriter().end()).toThrow(/no open message/);
  });
});
