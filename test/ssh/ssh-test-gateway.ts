import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { Client, type ClientChannel } from "ssh2";
import { configSchema } from "../../src/config/schema.js";
import { createTokenVerifier } from "../../src/identity/create-token-verifier.js";
import { mintDevToken } from "../../src/identity/dev-issuer.js";
import { createMetrics } from "../../src/observability/metrics.js";
import { OperationPipeline } from "../../src/pipeline/operation-pipeline.js";
import type { Admitter } from "../../src/pipeline/pipeline-types.js";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { loadPolicies } from "../../src/policy/load-policies.js";
import { type SshListener, startSshListener } from "../../src/protocols/ssh/front.js";
import { SessionGate } from "../../src/session/session-gate.js";
import { SessionRegistry } from "../../src/session/session-registry.js";
import { openStores } from "../../src/store/open-stores.js";
import type { AuditReader } from "../../src/store/store.js";
import { freePort } from "../support/free-port.js";
import { SSHD_USER, type TestSshd } from "../support/sshd.js";

export const SSH_TEST_POLICY = `
@id("ops-exec")
permit(principal in Group::"ops", action == Action::"ssh:exec", resource)
unless { context.command like "*rm -rf*" };
@id("ops-shell")
permit(principal in Group::"ops", action == Action::"ssh:shell", resource in Connection::"web-1");
@id("ops-env")
permit(principal in Group::"ops", action == Action::"ssh:env", resource) when { context.command like "LATCH_TEST_*" };
@id("agents-uname")
permit(principal in Group::"agents", action == Action::"ssh:exec", resource in Connection::"web-1")
when { context.command == "uname -s" };
`;

/**
 * A test-local composition of the SSH front with the real session gate, pipeline, Cedar policy, dev issuer and
 * SQLite store, without the rest of the gateway. Connections: web-1 (the real sshd), down (nothing
 * listens), spoofed (pinned to a host key sshd does not have).
 */
export interface SshTestGateway {
  readonly port: number;
  readonly listener: SshListener;
  /** Live sessions (kill, revoke and block act here in the gateway). */
  readonly registry: SessionRegistry;
  /** Principals the gate refuses. */
  readonly blocked: Set<string>;
  /** Read side of the store; call flush() first to see everything recorded so far. */
  readonly store: AuditReader;
  flush(): Promise<void>;
  readonly dataDir: string;
  token(subject: string, groups: readonly string[]): Promise<string>;
  connect(username: string, password: string): Promise<Client>;
  stop(): Promise<void>;
}

export async function startSshTestGateway(
  sshd: TestSshd,
  options: { policy?: string; wrap?: (pipeline: OperationPipeline) => Admitter } = {},
): Promise<SshTestGateway> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "latch-ssh-test-"));
  const policies = path.join(dataDir, "policies");
  mkdirSync(policies);
  writeFileSync(path.join(policies, "ssh.cedar"), options.policy ?? SSH_TEST_POLICY);
  const keyFile = path.join(dataDir, "upstream_key");
  writeFileSync(keyFile, sshd.userKey, { mode: 0o600 });
  const closedPort = await freePort();
  const upstream = (port: number) => `ssh://${SSHD_USER}@127.0.0.1:${port}`;
  const config = configSchema.parse({
    listen: { ssh: "127.0.0.1:0" },
    data_dir: dataDir,
    identity: { dev_issuer: true },
    policies,
    log_level: "silent",
    connections: {
      "web-1": {
        type: "ssh",
        upstream: upstream(sshd.port),
        private_key: { file: keyFile },
        host_key: sshd.hostKeyLine,
        labels: { env: "test" },
      },
      down: {
        type: "ssh",
        upstream: upstream(closedPort),
        private_key: { file: keyFile },
        host_key: sshd.hostFingerprint,
        connect_timeout: "3s",
      },
      spoofed: {
        type: "ssh",
        upstream: upstream(sshd.port),
        private_key: { file: keyFile },
        host_key: sshd.otherHostKeyLine,
      },
    },
  });
  const log = pino({ level: "silent" });
  const stores = await openStores(config);
  const store = stores.auditReader;
  const metrics = createMetrics();
  const engine = createCedarPolicyEngine(await loadPolicies(policies));
  const pipeline = new OperationPipeline(() => engine, stores.audit, metrics, log);
  const registry = new SessionRegistry();
  const blocked = new Set<string>();
  const gate = new SessionGate({
    connections: config.connections,
    verifier: createTokenVerifier(config.identity, { dataDir }),
    blocks: { isBlocked: (principal) => blocked.has(principal) },
    registry,
    audit: pipeline,
    metrics,
    log,
  });
  const listener = await startSshListener({
    config,
    gate,
    pipeline: options.wrap?.(pipeline) ?? pipeline,
    metrics,
    log,
  });
  const port = listener.address.port;
  return {
    port,
    listener,
    registry,
    blocked,
    store,
    flush: () => pipeline.flush(),
    dataDir,
    token: (subject, groups) => mintDevToken(dataDir, { subject, groups: [...groups], ttlSeconds: 600 }),
    connect: (username, password) =>
      new Promise((resolve, reject) => {
        const client = new Client();
        client.once("ready", () => resolve(client));
        client.once("error", reject);
        client.connect({
          host: "127.0.0.1",
          port,
          username,
          password,
          readyTimeout: 10_000,
          hostVerifier: () => true,
        });
      }),
    async stop() {
      await listener.close();
      await pipeline.flush();
      await stores.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal?: string;
}

/** Runs one exec on an ssh2 client and collects everything. */
export function exec(client: Client, command: string, input?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      collect(channel, resolve);
      if (input !== undefined) channel.end(input);
    });
  });
}

export function collect(channel: ClientChannel, resolve: (result: ExecResult) => void): void {
  let stdout = "";
  let stderr = "";
  let code: number | null = null;
  let signal: string | undefined;
  channel.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  channel.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  channel.on("exit", (exitCode: number | null, exitSignal?: string) => {
    code = exitCode;
    signal = exitSignal;
  });
  channel.on("close", () => resolve({ stdout, stderr, code, ...(signal === undefined ? {} : { signal }) }));
}
