import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";

export interface OpenSshRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the client had to be killed: it never ended on its own. */
  readonly hung: boolean;
}

export interface OpenSshClient {
  /** Runs `ssh [flags] <connection>@127.0.0.1 command` with stdin closed (`-n`), as cron and CI call it. */
  run(
    connection: string,
    command: string,
    options?: {
      flags?: readonly string[] /** Aborting kills the client (SIGKILL), as a crashed job would. */;
      signal?: AbortSignal;
    },
  ): Promise<OpenSshRun>;
}

/**
 * The real OpenSSH client against a Latch SSH listener: the token is answered at the keyboard-interactive
 * prompt through SSH_ASKPASS (as a human would paste it), and the gateway's host key is pinned in a
 * known_hosts file of its own.
 */
/**
 * The arguments and environment that log the real OpenSSH client in to a Latch SSH listener: the token is
 * answered at the keyboard-interactive prompt through SSH_ASKPASS (as a human would paste it), and the
 * gateway's host key is pinned in a known_hosts file of its own. Add the flags, `user@127.0.0.1` and the command.
 */
export function openSshLogin(options: {
  readonly dir: string;
  readonly port: number;
  /** The gateway's host key as an OpenSSH public key line. */
  readonly hostKeyLine: string;
  readonly token: string;
}): { readonly args: readonly string[]; readonly env: NodeJS.ProcessEnv } {
  const tokenFile = path.join(
    options.dir,
    `token-${options.port}-${Math.random().toString(36).slice(2)}.txt`,
  );
  writeFileSync(tokenFile, options.token, { mode: 0o600 });
  const askpass = `${tokenFile}.askpass.sh`;
  writeFileSync(askpass, `#!/bin/sh\ncat '${tokenFile}'\n`, { mode: 0o700 });
  const knownHosts = `${tokenFile}.known_hosts`;
  writeFileSync(knownHosts, `[127.0.0.1]:${options.port} ${options.hostKeyLine}\n`);
  const args = [
    "-p",
    String(options.port),
    "-o",
    "BatchMode=no",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "PubkeyAuthentication=no",
    "-o",
    "PreferredAuthentications=keyboard-interactive,password",
    "-o",
    "NumberOfPasswordPrompts=1",
  ];
  return { args, env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: ":0" } };
}

/** The real OpenSSH client with stdin closed (`-n`), as cron and CI call it. */
export function openSshClient(options: {
  readonly dir: string;
  readonly port: number;
  readonly hostKeyLine: string;
  readonly token: string;
  /** Kill a client that has not ended after this long (a regression must fail, not hang). */
  readonly killAfterMs?: number;
}): OpenSshClient {
  const login = openSshLogin(options);
  const args = ["-n", ...login.args];
  const env = login.env;
  return {
    run: (connection, command, runOptions = {}) =>
      new Promise((resolve, reject) => {
        const child = spawn(
          "ssh",
          [...args, ...(runOptions.flags ?? []), `${connection}@127.0.0.1`, command],
          {
            env,
            stdio: ["ignore", "pipe", "pipe"],
          },
        );
        let stdout = "";
        let stderr = "";
        let hung = false;
        runOptions.signal?.addEventListener("abort", () => child.kill("SIGKILL"), { once: true });
        const killer = setTimeout(() => {
          hung = true;
          child.kill("SIGKILL");
        }, options.killAfterMs ?? 30_000);
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
        });
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        child.once("error", reject);
        child.once("close", (code) => {
          clearTimeout(killer);
          resolve({ code, stdout, stderr, hung });
        });
      }),
  };
}
