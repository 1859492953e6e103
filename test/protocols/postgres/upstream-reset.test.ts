import { describe, expect, it } from "vitest";
import { resetUpstream } from "../../../src/protocols/postgres/upstream-reset.js";
import { MemorySocket, turns } from "../../support/memory-socket.js";
import { cstr, toBuffer, typed } from "../../support/naive-pg-bytes.js";

/** The reset's conversation with a scripted server: only DISCARD ALL answered cleanly at 'I' passes. */

const commandComplete = (tag: string) => toBuffer(typed("C", cstr(tag)));
const ready = (status: "I" | "T" | "E") => toBuffer(typed("Z", [status.charCodeAt(0)]));
const parameterStatus = (name: string, value: string) => toBuffer(typed("S", cstr(name), cstr(value)));
const notice = toBuffer(typed("N", [0x53], cstr("NOTICE"), [0x43], cstr("00000"), [0x4d], cstr("hi"), [0]));
const error = toBuffer(typed("E", [0x53], cstr("ERROR"), [0x43], cstr("57014"), [0x4d], cstr("cancel"), [0]));

const startup = new Map([
  ["TimeZone", "UTC"],
  ["application_name", ""],
  ["client_encoding", "UTF8"],
]);

async function reset(answer: Buffer[], options: { timeoutMs?: number; cancels?: Promise<void> } = {}) {
  const socket = new MemorySocket();
  const done = resetUpstream(socket, startup, {
    maxFrameBytes: 1 << 20,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.cancels === undefined ? {} : { cancelsDelivered: options.cancels }),
  });
  await turns();
  socket.send(...answer);
  return { socket, done };
}

describe("resetUpstream", () => {
  it("sends DISCARD ALL and returns the startup parameters with what the reset reported", async () => {
    const { socket, done } = await reset([
      parameterStatus("TimeZone", "UTC"),
      notice,
      commandComplete("DISCARD ALL"),
      ready("I"),
    ]);
    expect(await done).toEqual(startup);
    expect(socket.output()).toEqual(toBuffer(typed("Q", cstr("DISCARD ALL"))));
    expect(socket.listenerCount("data")).toBe(0);
  });

  it("keeps a value the reset reports differently (it is what the backend now has)", async () => {
    const { done } = await reset([
      parameterStatus("in_hot_standby", "on"),
      commandComplete("DISCARD ALL"),
      ready("I"),
    ]);
    expect((await done).get("in_hot_standby")).toBe("on");
  });

  it.each([
    ["an error", [error, ready("I")]],
    ["status T", [commandComplete("DISCARD ALL"), ready("T")]],
    ["status E", [commandComplete("DISCARD ALL"), ready("E")]],
    ["another command's tag", [commandComplete("SELECT 1"), ready("I")]],
    ["ReadyForQuery without completion", [ready("I")]],
    ["rows", [toBuffer(typed("D", [0, 0])), commandComplete("DISCARD ALL"), ready("I")]],
    ["bytes after ReadyForQuery", [commandComplete("DISCARD ALL"), Buffer.concat([ready("I"), notice])]],
    ["a pinned parameter changed", [parameterStatus("client_encoding", "LATIN1"), ready("I")]],
  ])("fails on %s", async (_, answer) => {
    const { done } = await reset(answer);
    await expect(done).rejects.toThrow();
  });

  it("fails when the server closes", async () => {
    const { socket, done } = await reset([]);
    socket.push(null);
    await expect(done).rejects.toThrow();
  });

  it("fails when the server does not answer in time", async () => {
    const { done } = await reset([], { timeoutMs: 20 });
    await expect(done).rejects.toThrow();
  });

  it("sends nothing until the cancels of the last session reached the server", async () => {
    let delivered = () => {};
    const cancels = new Promise<void>((resolve) => {
      delivered = resolve;
    });
    const { socket, done } = await reset([], { cancels });
    expect(socket.written).toHaveLength(0);
    delivered();
    await turns();
    expect(socket.output()).toEqual(toBuffer(typed("Q", cstr("DISCARD ALL"))));
    socket.send(commandComplete("DISCARD ALL"), ready("I"));
    expect(await done).toEqual(startup);
  });
});
