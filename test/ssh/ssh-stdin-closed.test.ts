import { spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync } from "node:fs";
import { Duplex, Readable, Writable } from "node:stream";
import type { ClientChannel, ServerChannel } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { relayChannel } from "../../src/protocols/ssh/channel-relay.js";
import { openSshLogin } from "../support/openssh-client.js";
import { startSshd, type TestSshd } from "../support/sshd.js";
import { type SshTestGateway, startSshTestGateway } from "./ssh-test-gateway.js";

/**
 * How cron jobs, CI steps and Ansible call ssh: stdin closed (`-n`, `< /dev/null`), so the client's EOF on the
 * session channel arrives right behind the exec request, long before policy has admitted the command and the
 * target's channel is open. The EOF must still reach the target, and the exit status come back.
 */

let sshd: TestSshd;
let gateway: SshTestGateway;
let sshArgs: string[];
let sshEnv: NodeJS.ProcessEnv;

/** A regression hangs; it must fail instead, well inside the test timeout. */
const KILL_AFTER_MS = 20_000;

beforeAll(async () => {
  sshd = await startSshd();
  gateway = await startSshTestGateway(sshd);
  const login = openSshLogin({
    dir: gateway.dataDir,
    port: gateway.port,
    hostKeyLine: gateway.listener.hostKey.publicLine,
    token: await gateway.token("ops-bot", ["ops"]),
  });
  sshArgs = [...login.args];
  sshEnv = login.env;
}, 30_000);

afterAll(async () => {
  await gateway?.stop();
  await sshd?.stop();
});

interface SshRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the client had to be killed: the channel never ended. */
  readonly hung: boolean;
}

/** Runs the real OpenSSH client; `stdin` is what its standard input is (a file descriptor, or text to pipe). */
function ssh(flags: readonly string[], command: string, stdin: "ignore" | number | { text: string }) {
  return new Promise<SshRun>((resolve, reject) => {
    const child = spawn("ssh", [...sshArgs, ...flags, "web-1@127.0.0.1", command], {
      env: sshEnv,
      stdio: [typeof stdin === "object" ? "pipe" : stdin, "pipe", "pipe"],
      timeout: KILL_AFTER_MS,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    if (typeof stdin === "object") child.stdin?.end(stdin.text);
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, stdout, stderr, hung: signal === "SIGKILL" }));
  });
}

describe("the real OpenSSH client with its stdin closed", () => {
  it("`ssh -n host 'echo hi'` prints hi and exits 0", async () => {
    const run = await ssh(["-n"], "echo hi", "ignore");
    expect(run).toMatchObject({ hung: false, code: 0, stdout: "hi\n" });
  });

  it("`ssh host 'echo hi' < /dev/null` prints hi and exits 0", async () => {
    const devNull = openSync("/dev/null", "r");
    try {
      const run = await ssh([], "echo hi", devNull);
      expect(run).toMatchObject({ hung: false, code: 0, stdout: "hi\n" });
    } finally {
      closeSync(devNull);
    }
  });

  it("`ssh -n host 'exit 3'` exits 3", async () => {
    const run = await ssh(["-n"], "exit 3", "ignore");
    expect(run).toMatchObject({ hung: false, code: 3, stdout: "" });
  });

  it("a command that reads stdin gets EOF at once: `ssh host cat < /dev/null` exits 0", async () => {
    const devNull = openSync("/dev/null", "r");
    try {
      const run = await ssh([], "cat; echo after-eof", devNull);
      expect(run).toMatchObject({ hung: false, code: 0, stdout: "after-eof\n" });
    } finally {
      closeSync(devNull);
    }
  });

  it("`echo data | ssh host cat` still echoes the data (early input is not lost) and ends", async () => {
    const run = await ssh([], "cat", { text: "data\n" });
    expect(run).toMatchObject({ hung: false, code: 0, stdout: "data\n" });
  });

  it("several quick runs in a row all end (the EOF race is timing-dependent)", async () => {
    const runs = await Promise.all(
      Array.from({ length: 4 }, (_, index) => ssh(["-n"], `echo run-${index}`, "ignore")),
    );
    for (const [index, run] of runs.entries()) {
      expect(run).toMatchObject({ hung: false, code: 0, stdout: `run-${index}\n` });
    }
  });
});

/** Stand-ins for the two ssh2 channels, with only what relayChannel uses; they record what reached each side. */
function fakeChannels() {
  const toTarget: string[] = [];
  const toClient: string[] = [];
  const exits: unknown[][] = [];
  let targetEnds = 0;
  let clientEnds = 0;
  const up = Object.assign(
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        toTarget.push(chunk.toString());
        callback();
      },
    }),
    { stderr: new Readable({ read() {} }), signal() {}, close() {} },
  );
  const endUp = up.end.bind(up);
  up.end = ((...args: Parameters<typeof up.end>) => {
    targetEnds += 1;
    return endUp(...args);
  }) as typeof up.end;
  const front = Object.assign(
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        toClient.push(chunk.toString());
        callback();
      },
    }),
    {
      stderr: new Writable({ write: (_chunk, _encoding, callback) => callback() }),
      exit: (...args: unknown[]) => exits.push(args),
    },
  );
  const endFront = front.end.bind(front);
  front.end = ((...args: Parameters<typeof front.end>) => {
    clientEnds += 1;
    return endFront(...args);
  }) as typeof front.end;
  return {
    up,
    front,
    relay: () => relayChannel(front as unknown as ServerChannel, up as unknown as ClientChannel, {}),
    /** The target answers, exits and closes its channel. */
    finishTarget(output: string, code: number) {
      up.push(output);
      up.stderr.push(null);
      up.emit("exit", code);
      up.emit("close");
    },
    seen: () => ({ toTarget: toTarget.join(""), targetEnds, toClient: toClient.join(""), exits, clientEnds }),
  };
}

/** Settles within a bound: a lost EOF shows up as "hung", not as a stuck test. */
function bounded<T>(promise: Promise<T>): Promise<T | "hung"> {
  return Promise.race([
    promise,
    new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 2_000).unref()),
  ]);
}

describe("relayChannel with a client whose input ended early", () => {
  it("input and EOF buffered before the relay is attached reach the target, the EOF exactly once", async () => {
    const channels = fakeChannels();
    channels.front.push("early input\n");
    channels.front.push(null);
    const relay = channels.relay();
    expect(await bounded(once(channels.up, "finish"))).not.toBe("hung");
    channels.finishTarget("done\n", 0);
    expect(await bounded(relay)).toEqual({ code: 0, clientGone: false });
    expect(channels.seen()).toEqual({
      toTarget: "early input\n",
      targetEnds: 1,
      toClient: "done\n",
      exits: [[0]],
      clientEnds: 1,
    });
  });

  it("an EOF already consumed ('end' emitted) before the relay still ends the target's input once", async () => {
    const channels = fakeChannels();
    channels.front.push(null);
    channels.front.resume();
    await once(channels.front, "end");
    expect(channels.front.readableEnded).toBe(true);
    const relay = channels.relay();
    expect(await bounded(once(channels.up, "finish"))).not.toBe("hung");
    channels.finishTarget("", 3);
    expect(await bounded(relay)).toEqual({ code: 3, clientGone: false });
    expect(channels.seen()).toMatchObject({ targetEnds: 1, exits: [[3]], clientEnds: 1 });
  });

  it("an EOF that comes while the relay runs ends the target's input once", async () => {
    const channels = fakeChannels();
    const relay = channels.relay();
    channels.front.push("late\n");
    setImmediate(() => channels.front.push(null));
    expect(await bounded(once(channels.up, "finish"))).not.toBe("hung");
    channels.finishTarget("late\n", 0);
    expect(await bounded(relay)).toEqual({ code: 0, clientGone: false });
    expect(channels.seen()).toMatchObject({ toTarget: "late\n", targetEnds: 1, toClient: "late\n" });
  });
});
