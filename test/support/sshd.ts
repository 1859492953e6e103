import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { freePort } from "./free-port.js";

/**
 * A real OpenSSH sshd on 127.0.0.1 that accepts one generated key for SSHD_USER. Not root: sshd runs root
 * logins without privilege separation, and then refuses "signal" requests (which the gateway relies on).
 */
export interface TestSshd {
  readonly port: number;
  readonly dir: string;
  /** known_hosts-style "ssh-ed25519 AAAA..." of the server's host key. */
  readonly hostKeyLine: string;
  /** "SHA256:..." of the same key, as ssh-keygen prints it. */
  readonly hostFingerprint: string;
  /** Path and text of the private key sshd accepts (what the gateway injects). */
  readonly userKeyFile: string;
  readonly userKey: string;
  /** A host key line sshd does NOT present, for mismatch tests. */
  readonly otherHostKeyLine: string;
  /** What sshd wrote to stderr so far (-e), for diagnosing a failed test. */
  logs(): string;
  stop(): Promise<void>;
}

export const SSHD_BINARY = "/usr/sbin/sshd";
export const SSHD_USER = "latch-ssh-test";

/** Creates the unprivileged login account once per machine (the harness runs as root, like CI). */
function ensureUser(): void {
  try {
    execFileSync("id", ["-u", SSHD_USER], { stdio: "ignore" });
  } catch {
    // "*" rather than useradd's locked "!": without PAM, sshd refuses key logins to locked accounts.
    execFileSync("useradd", ["--create-home", "--shell", "/bin/bash", "--password", "*", SSHD_USER]);
  }
}

function keygen(file: string): string {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "latch-test", "-f", file]);
  const [type, blob] = readFileSync(`${file}.pub`, "utf8").trim().split(/\s+/);
  return `${type} ${blob}`;
}

export async function startSshd(): Promise<TestSshd> {
  ensureUser();
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-sshd-"));
  // The login user must be able to read authorized_keys.
  chmodSync(dir, 0o755);
  // sshd insists on its privilege-separation directory.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKeyFile = path.join(dir, "host_ed25519");
  const hostKeyLine = keygen(hostKeyFile);
  const otherHostKeyLine = keygen(path.join(dir, "other_host_ed25519"));
  const userKeyFile = path.join(dir, "user_ed25519");
  const userPublic = keygen(userKeyFile);
  writeFileSync(path.join(dir, "authorized_keys"), `${userPublic}\n`, { mode: 0o644 });
  const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${hostKeyFile}.pub`], {
    encoding: "utf8",
  }).split(/\s+/)[1] as string;
  for (let attempt = 0; ; attempt += 1) {
    const port = await freePort();
    const config = path.join(dir, "sshd_config");
    writeFileSync(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKeyFile}`,
        `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin no",
        `AllowUsers ${SSHD_USER}`,
        "StrictModes no",
        "UsePAM no",
        `PidFile ${path.join(dir, "sshd.pid")}`,
        "AllowTcpForwarding yes",
        "AcceptEnv LANG LC_* LATCH_TEST_*",
        "Subsystem sftp internal-sftp",
        `LogLevel ${process.env.LATCH_TEST_SSHD_LOGLEVEL ?? "ERROR"}`,
        "",
      ].join("\n"),
    );
    const child = spawn(SSHD_BINARY, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    if (await waitForBanner(port, child)) {
      return {
        port,
        dir,
        hostKeyLine,
        hostFingerprint: fingerprint,
        userKeyFile,
        userKey: readFileSync(userKeyFile, "utf8"),
        otherHostKeyLine,
        logs: () => stderr,
        async stop() {
          await stopChild(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stopChild(child);
    if (attempt >= 3) throw new Error(`sshd did not start: ${stderr}`);
  }
}

function waitForBanner(port: number, child: ChildProcess): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  return new Promise((resolve) => {
    const attempt = () => {
      if (child.exitCode !== null || Date.now() > deadline) return resolve(false);
      const socket = net.connect(port, "127.0.0.1");
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString().startsWith("SSH-2.0-"));
      });
      socket.once("error", () => {
        socket.destroy();
        setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}
