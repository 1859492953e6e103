import { execFile } from "node:child_process";
import type { Client } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assembleRecordings, playRecording } from "../../src/cli/commands/play.js";
import { RECORDING_EVENT_KIND } from "../../src/protocols/ssh/asciicast-recorder.js";
import { openSshLogin } from "../support/openssh-client.js";
import { SSHD_USER, startSshd, type TestSshd } from "../support/sshd.js";
import {
  collect,
  type ExecResult,
  exec,
  type SshTestGateway,
  startSshTestGateway,
} from "./ssh-test-gateway.js";

let sshd: TestSshd;
let gateway: SshTestGateway;
let opsToken: string;
let agentToken: string;
const clients: Client[] = [];

async function login(username: string, token: string): Promise<Client> {
  const client = await gateway.connect(username, token);
  clients.push(client);
  return client;
}

async function sessionEvents(sessionOf: (data: Record<string, unknown>) => boolean) {
  const starts = (await gateway.store.events({ kind: "session_start" })).filter((event) =>
    sessionOf(event.data),
  );
  return Promise.all(starts.map((start) => gateway.store.events({ sessionId: start.sessionId ?? "" })));
}

beforeAll(async () => {
  sshd = await startSshd();
  gateway = await startSshTestGateway(sshd);
  opsToken = await gateway.token("ops-bot", ["ops"]);
  agentToken = await gateway.token("agent-7", ["agents"]);
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.end();
  await gateway?.stop();
  await sshd?.stop();
});

describe("ssh gateway against a real sshd", () => {
  it("runs an allowed command with the injected key: output, stderr and exit status pass through", async () => {
    const client = await login("web-1", opsToken);
    const result = await exec(client, "echo hello from $(whoami); echo oops >&2; exit 3");
    expect(result).toEqual({ stdout: `hello from ${SSHD_USER}\n`, stderr: "oops\n", code: 3 });
    const piped = await exec(client, "tr a-z A-Z", "quiet input\n");
    expect(piped.stdout).toBe("QUIET INPUT\n");
    expect(piped.code).toBe(0);
  });

  it("denies a command with a stderr message and status 126, and the connection stays usable", async () => {
    const client = await login("web-1", agentToken);
    const denied = await exec(client, "cat /etc/shadow");
    expect(denied.code).toBe(126);
    expect(denied.stdout).toBe("");
    expect(denied.stderr).toMatch(/^latch: denied by Latch policy: .*ssh:exec/);
    const allowed = await exec(client, "uname -s");
    expect(allowed).toEqual({ stdout: "Linux\n", stderr: "", code: 0 });
    // The command line is in Cedar's context: a forbidden pattern is refused for ops too.
    const ops = await login("web-1", opsToken);
    expect((await exec(ops, "rm -rf /tmp/latch-nothing-here")).code).toBe(126);
    await gateway.flush();
    const operations = await gateway.store.events({ kind: "operation", text: "cat /etc/shadow" });
    expect(operations.map((event) => (event.data.verdict as { decision: string }).decision)).toEqual([
      "deny",
    ]);
  });

  it("allows a shell for ops (pty, env) and denies it for agents", async () => {
    const ops = await login("web-1", opsToken);
    const output = await new Promise<ExecResult>((resolve, reject) => {
      ops.shell(
        { rows: 30, cols: 100, term: "xterm" },
        { env: { LATCH_TEST_COLOR: "teal", OTHER_VAR: "x" } },
        (error, channel) => {
          if (error) return reject(error);
          collect(channel, resolve);
          let seen = "";
          let resized = false;
          channel.on("data", (chunk: Buffer) => {
            seen += chunk.toString();
            if (resized || !seen.includes("shell-42")) return;
            resized = true;
            channel.setWindow(40, 120, 0, 0);
            channel.write("echo cols-$(tput cols)\nexit 5\n");
          });
          // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template
          channel.write("echo shell-$((40+2)) $LATCH_TEST_COLOR ${OTHER_VAR:-unset} $(tput cols)\n");
        },
      );
    });
    expect(output.stdout).toContain("shell-42 teal unset 100");
    expect(output.stdout).toContain("cols-120");
    expect(output.code).toBe(5);
    const agent = await login("web-1", agentToken);
    const denied = await new Promise<ExecResult>((resolve, reject) =>
      agent.shell(false, (error, channel) => (error ? reject(error) : collect(channel, resolve))),
    );
    expect(denied.code).toBe(126);
    expect(denied.stderr).toContain("denied by Latch policy");
  });

  it("denies sftp and port forwarding by default", async () => {
    const client = await login("web-1", opsToken);
    await expect(
      new Promise((resolve, reject) => client.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)))),
    ).rejects.toThrow();
    await expect(
      new Promise((resolve, reject) =>
        client.forwardOut("127.0.0.1", 5555, "127.0.0.1", sshd.port, (error, channel) =>
          error ? reject(error) : resolve(channel),
        ),
      ),
    ).rejects.toThrow(/prohibited|failure/i);
    await gateway.flush();
    const verbs = (await gateway.store.events({ kind: "operation", decision: "deny" })).map(
      (event) => (event.data.statements as { verb: string; text: string }[])[0],
    );
    expect(verbs).toEqual(expect.arrayContaining([{ verb: "ssh:sftp", text: "sftp" }]));
    expect(verbs.some((s) => s?.verb === "ssh:port_forward" && s?.text === `127.0.0.1:${sshd.port}`)).toBe(
      true,
    );
    // Still usable afterwards.
    expect((await exec(client, "echo still-here")).stdout).toBe("still-here\n");
  });

  it("refuses a bad token and an unknown connection at login, and records why", async () => {
    await expect(gateway.connect("web-1", "not-a-token")).rejects.toThrow(/authentication/i);
    await expect(gateway.connect("no-such-host", opsToken)).rejects.toThrow(/authentication/i);
    await gateway.flush();
    const failures = (await gateway.store.events({ kind: "auth_failure" })).map((event) => event.data.code);
    expect(failures).toEqual(expect.arrayContaining(["token_invalid", "connection_unknown"]));
  });

  it("reports an unreachable target and fails closed on a wrong upstream host key", async () => {
    const down = await login("down", opsToken);
    const unreachable = await exec(down, "echo never");
    expect(unreachable.code).toBe(255);
    expect(unreachable.stderr).toMatch(/upstream for connection "down" is unreachable: ECONNREFUSED/);
    const spoofed = await login("spoofed", opsToken);
    const refused = await exec(spoofed, "echo never");
    expect(refused.code).toBe(255);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("host key does not match");
  });

  it("records the session as asciicast v2 and replays exactly the output", async () => {
    const client = await login("web-1", opsToken);
    const result = await exec(
      client,
      "for i in 1 2 3; do echo line-$i; sleep 0.05; done; printf 'é-utf8\\n'",
    );
    expect(result.code).toBe(0);
    // The recording chunks are sent when the channel closes.
    await gateway.flush();
    const [events] = (await sessionEvents((data) => data.connection === "web-1")).filter((list) =>
      list.some((event) =>
        (event.data as { header?: { command?: string } }).header?.command?.startsWith("for i in"),
      ),
    );
    const recordings = assembleRecordings(events ?? []);
    expect(recordings).toHaveLength(1);
    const recording = recordings[0]!;
    expect(recording.header).toMatchObject({ version: 2, width: 80, height: 24 });
    let replayed = "";
    const pauses: number[] = [];
    await playRecording(recording, {
      speed: 2,
      idleLimit: 1,
      write: (text) => {
        replayed += text;
      },
      sleep: async (ms) => {
        pauses.push(ms);
      },
    });
    expect(replayed).toBe(result.stdout);
    // The sleeps between lines are kept (halved by --speed 2).
    expect(pauses.filter((ms) => ms >= 15).length).toBeGreaterThanOrEqual(2);
    expect(events?.some((event) => event.kind === (RECORDING_EVENT_KIND as string))).toBe(true);
  });

  it("shows 'waiting for approval' when the pipeline holds a command and runs it once admitted", async () => {
    const held = await startSshTestGateway(sshd, {
      wrap: (pipeline) => ({
        async admit(operation, context, options) {
          if (operation.steps[0]?.text !== "echo approved")
            return pipeline.admit(operation, context, options);
          options?.onHeld?.({
            decision: "approval",
            rules: ["test"],
            reason: "needs approval",
            approval: { group: "dba", quorum: 1 },
            requestId: "req_test",
            timeoutMs: 60_000,
            expiresAt: Date.now() + 60_000,
          });
          await new Promise((resolve) => setTimeout(resolve, 400));
          return pipeline.admit(operation, context, options);
        },
        recordRefusal: (operation, error) => pipeline.recordRefusal(operation, error),
        complete: (operation, result) => pipeline.complete(operation, result),
        recordProtocolError: (sessionId, error) => pipeline.recordProtocolError(sessionId, error),
        recordDurably: (event) => pipeline.recordDurably(event),
        record: (event, options) => pipeline.record(event, options),
      }),
    });
    try {
      const client = await held.connect("web-1", await held.token("ops-bot", ["ops"]));
      const started = Date.now();
      const result = await exec(client, "echo approved");
      client.end();
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
      expect(result.stderr).toMatch(
        /^latch: waiting for approval by one member of group "dba" \(request req_test; approve with: latch requests approve req_test\) \.\.\.\n$/,
      );
      expect(result.stdout).toBe("approved\n");
      expect(result.code).toBe(0);
    } finally {
      await held.stop();
    }
  });

  it("sends TERM to the remote process when the client disconnects mid-command", async () => {
    const marker = `sleep 4${Math.floor(Math.random() * 1000) + 100}`;
    const client = await gateway.connect("web-1", opsToken);
    client.exec(marker, () => {});
    const observer = await login("web-1", opsToken);
    const running = async () => (await exec(observer, `pgrep -f '^${marker}$' || true`)).stdout.trim() !== "";
    for (let i = 0; i < 50 && !(await running()); i += 1) await new Promise((r) => setTimeout(r, 100));
    expect(await running()).toBe(true);
    client.destroy();
    let gone = false;
    for (let i = 0; i < 50 && !gone; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      gone = !(await running());
    }
    expect(gone).toBe(true);
  });

  // Retried: under heavy CI load the exit status of a fast command was once lost (it arrived before the relay
  // listened; fixed by captureChannelEnd). Kept as a guard against other timing on loaded machines: a real
  // regression still fails all three attempts.
  it("works with the real OpenSSH client (keyboard-interactive via SSH_ASKPASS, pinned gateway host key)", {
    retry: 2,
  }, async () => {
    const login = openSshLogin({
      dir: gateway.dataDir,
      port: gateway.port,
      hostKeyLine: gateway.listener.hostKey.publicLine,
      token: opsToken,
    });
    const run = (command: string) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          "ssh",
          [...login.args, "web-1@127.0.0.1", command],
          { env: login.env, timeout: 20_000 },
          (error, stdout, stderr) =>
            resolve({
              code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
              stdout,
              stderr,
            }),
        );
      });
    const allowed = await run("echo real-$((1+1)); exit 7");
    expect(allowed).toMatchObject({ code: 7, stdout: "real-2\n" });
    const denied = await run("rm -rf /tmp/nothing");
    expect(denied.code).toBe(126);
    expect(denied.stderr).toContain("latch: denied by Latch policy");
  });

  it("never lets the injected private key appear in any audit event or client-visible message", async () => {
    const body = sshd.userKey
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("-----"))
      .join("");
    await gateway.flush();
    const record = JSON.stringify(await gateway.store.events({ limit: 100_000 }));
    expect(record.length).toBeGreaterThan(1000);
    for (let offset = 0; offset + 24 <= body.length; offset += 12) {
      expect(record).not.toContain(body.slice(offset, offset + 24));
    }
    // Asking the target for its own copy is fine; asking the gateway for the key it holds is impossible.
    const client = await login("web-1", opsToken);
    const probe = await exec(client, "echo $SSH_AUTH_SOCK; env | grep -c PRIVATE || true");
    expect(probe.stdout).not.toContain(body.slice(0, 24));
  });
});
