import net from "node:net";
import type { Logger } from "pino";
import { startAdminServer } from "../admin/admin-server.js";
import type { LoadedConfig } from "../config/load-config.js";
import { loadOrCreateGatewayId } from "../credentials/gateway-id.js";
import { PostgresEphemeralRoles } from "../credentials/postgres-ephemeral.js";
import { LatchError } from "../errors.js";
import { createTokenVerifier } from "../identity/create-token-verifier.js";
import { createRecordingMasker } from "../masking/text-masker.js";
import { OperationPipeline } from "../pipeline/operation-pipeline.js";
import { createCedarPolicyEngine } from "../policy/create-cedar-engine.js";
import { loadPolicies } from "../policy/load-policies.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import { CancelRegistry } from "../protocols/postgres/cancel-registry.js";
import { type ConnectionMasking, createConnectionMasking } from "../protocols/postgres/connection-masking.js";
import type { PgSession } from "../protocols/postgres/pg-session.js";
import { handlePostgresClient } from "../protocols/postgres/postgres-front.js";
import { startSshListener } from "../protocols/ssh/ssh-front.js";
import { createStatementClassifier, loadSqlParser } from "../sql/postgres/create-classifier.js";
import { openGatewayAuditLog } from "../store/gateway-audit-log.js";
import { sqliteStorePath } from "../store/open-store.js";
import {
  createSqlitePrincipalBlockStore,
  type PrincipalBlockStore,
} from "../store/sqlite-principal-blocks.js";
import type { AuditReader } from "../store/store.js";
import { createLogger } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { type GatewayApprovals, startApprovals } from "./start-approvals.js";
import { loadTlsMaterial } from "./tls-material.js";

export interface RunningGateway {
  readonly postgresAddress: { host: string; port: number };
  readonly adminAddress: { host: string; port: number };
  readonly sshAddress: { host: string; port: number } | undefined;
  /** Read side of the audit log (the write side is the pipeline's). */
  readonly audit: AuditReader;
  /** Resolves once every event recorded so far is durable. */
  flushAudit(): Promise<void>;
  readonly log: Logger;
  /** Re-reads policies; the old set stays in force if the new one is invalid. */
  reloadPolicies(): Promise<{ policies: number; sessionsEnded: number }>;
  stop(): Promise<void>;
}

/** The composition root: reads config, builds every piece, starts the listeners. */
export async function startGateway(
  loaded: LoadedConfig,
  options: { log?: Logger } = {},
): Promise<RunningGateway> {
  const { config } = loaded;
  const log = options.log ?? createLogger(config.log_level);
  const metrics = createMetrics();
  await loadSqlParser();
  let policy: PolicyEngine = createCedarPolicyEngine(await loadPolicies(config.policies));
  const { log: auditLog, reader } = await openGatewayAuditLog(config);
  // ---- approvals (issue 3): declared here so every exit path closes them ----
  let approvals: GatewayApprovals | undefined;
  const masking = new Map<string, ConnectionMasking>();
  // ---- end approvals ----
  // ---- ephemeral users and blocking (issue 5) ----
  const ephemeral = new Map<string, PostgresEphemeralRoles>();
  let blocks: PrincipalBlockStore | undefined;
  let reaper: NodeJS.Timeout | undefined;
  // ---- end issue 5 ----
  try {
    const tlsMaterial = await loadTlsMaterial(config);
    const verifier = createTokenVerifier(config.identity, { dataDir: config.data_dir });
    const classifier = createStatementClassifier({
      dangerousFunctions: config.sql.dangerous_functions,
      safeFunctions: config.sql.safe_functions,
    });
    // ---- approvals (issue 3): store, service, webhooks, upfront judge; votes are audited synchronously ----
    const approval = startApprovals({
      config,
      policy: () => policy,
      audit: (event) => auditLog.append([event]),
      log,
    });
    approvals = approval;
    // ---- end approvals ----
    const pipeline = new OperationPipeline(
      () => policy,
      auditLog,
      metrics,
      log,
      () => approval.pipeline,
    );
    const live = new Map<string, PgSession>();
    const recordingMaskers = new Map<string, (text: string) => string>();
    for (const [name, connection] of Object.entries(config.connections)) {
      if (connection.type !== "ssh") continue;
      const mask = createRecordingMasker(connection.masking, config.masking);
      if (mask !== undefined) recordingMaskers.set(name, mask);
    }
    // Built at start-up so an unknown masking profile or bad detector stops the gateway with a clear error.
    for (const [name, connection] of Object.entries(config.connections)) {
      if (connection.type === "postgres" && connection.masking.length > 0) {
        masking.set(name, createConnectionMasking(name, connection, config, log));
      }
    }
    // ---- ephemeral users (issue 5): one admin pool per connection; leftovers reaped now and every minute ----
    blocks = createSqlitePrincipalBlockStore(sqliteStorePath(config));
    const gatewayId = loadOrCreateGatewayId(config.data_dir);
    for (const [name, connection] of Object.entries(config.connections)) {
      if (connection.type !== "postgres" || connection.ephemeral === undefined) continue;
      ephemeral.set(
        name,
        new PostgresEphemeralRoles({
          connectionName: name,
          connection,
          settings: connection.ephemeral,
          gatewayId,
          record: (event) => pipeline.record(event),
          log,
        }),
      );
    }
    const reapAll = () =>
      Promise.all(
        [...ephemeral].map(([name, roles]) =>
          roles.reap().then(
            (count) => count > 0 && log.info({ connection: name, count }, "reaped leftover ephemeral roles"),
            (error: Error) =>
              log.warn({ connection: name, err: error.message }, "ephemeral role reaper failed"),
          ),
        ),
      );
    if (ephemeral.size > 0) {
      await reapAll();
      reaper = setInterval(() => void reapAll(), 60_000);
      reaper.unref();
    }
    // ---- end ephemeral users ----
    const cancels = new CancelRegistry();
    const deps = {
      config,
      tls: tlsMaterial.context,
      verifier,
      classifier,
      pipeline,
      metrics,
      log,
      cancels,
      live,
      masking,
      ephemeral,
      blocks,
    };

    // Live revocation: a revoked grant ends its principal's open sessions on that connection at once.
    approval.service.subscribe((update) => {
      if (update.type !== "grant" || update.grant.revokedAt === null) return;
      const { id, principal, connection } = update.grant;
      for (const session of live.values()) {
        if (session.subject === principal && session.connection === connection) {
          session.terminate(new LatchError("session_terminated", { reason: `grant ${id} was revoked` }));
        }
      }
    });
    const pgServer = net.createServer({ noDelay: true }, (socket) => {
      socket.on("error", () => socket.destroy());
      void handlePostgresClient(socket, deps);
    });
    pgServer.maxConnections = config.limits.max_connections;
    const postgresAddress = await listen(pgServer, config.listen.postgres, "postgres");
    // SSH shares identity, policy, approvals and the audit log; it starts only when listen.ssh is set.
    const sshLive = new Map<string, { terminate(error: LatchError, reason?: string): void }>();
    const ssh =
      config.listen.ssh === undefined
        ? undefined
        : await startSshListener({
            config,
            verifier,
            pipeline,
            metrics,
            log,
            live: sshLive,
            maskOutput: (name) => recordingMaskers.get(name),
          });
    /** New policies apply to new statements at once, and end live sessions whose recent statements they deny. */
    const reloadPolicies = async (): Promise<{ policies: number; sessionsEnded: number }> => {
      policy = createCedarPolicyEngine(await loadPolicies(config.policies));
      let sessionsEnded = 0;
      for (const session of [...live.values()]) if (!session.revalidate(policy)) sessionsEnded += 1;
      log.info({ policies: policy.policyCount, sessionsEnded }, "policies reloaded");
      return { policies: policy.policyCount, sessionsEnded };
    };
    const admin = await startAdminServer({
      config,
      audit: reader,
      checkStore: () => auditLog.check(),
      metrics,
      verifier,
      log,
      live,
      policyCount: () => policy.policyCount,
      reloadPolicies,
      approvals: { service: approval.service, judgeUpfront: approval.judgeUpfront }, // approvals (issue 3)
      sessionControl: { live, blocks, record: (event) => pipeline.recordDurably(event) }, // issue 5
    });
    await pipeline.recordDurably({
      kind: "gateway_start",
      sessionId: null,
      data: {
        connections: Object.keys(config.connections),
        policies: policy.policyCount,
        tlsCert: tlsMaterial.certFile,
      },
    });
    log.info(
      {
        postgres: `${postgresAddress.host}:${postgresAddress.port}`,
        admin: `${admin.address.host}:${admin.address.port}`,
        ...(ssh === undefined
          ? {}
          : { ssh: `${ssh.address.host}:${ssh.address.port}`, sshHostKey: ssh.hostKey.fingerprint }),
        policies: policy.policyCount,
        connections: Object.keys(config.connections),
      },
      "gateway ready",
    );
    return {
      postgresAddress,
      sshAddress: ssh?.address,
      adminAddress: admin.address,
      audit: reader,
      flushAudit: () => pipeline.flush(),
      log,
      reloadPolicies,
      async stop() {
        pgServer.close();
        for (const session of live.values()) session.terminate(new LatchError("gateway_shutting_down"));
        for (const session of sshLive.values()) session.terminate(new LatchError("gateway_shutting_down"));
        await ssh?.close();
        await admin.close();
        await approval.close(); // approvals (issue 3): after the sessions, so held requests end as abandoned
        // issue 5: the sessions' roles are dropped before the admin pools close
        clearInterval(reaper);
        await Promise.all([...ephemeral.values()].map((roles) => roles.close()));
        blocks?.close();
        pipeline.record({ kind: "gateway_stop", sessionId: null, data: {} });
        // A broken audit log must not stop the shutdown; it was already failing closed and reported.
        await pipeline
          .flush()
          .catch((error: unknown) => log.error({ err: error }, "audit log not flushed at shutdown"));
        reader.close();
        await auditLog.close();
        await Promise.all([...masking.values()].map((m) => m.close()));
      },
    };
  } catch (error) {
    await approvals?.close(); // approvals (issue 3)
    clearInterval(reaper); // issue 5
    await Promise.allSettled([...ephemeral.values()].map((roles) => roles.close()));
    blocks?.close();
    reader.close();
    await auditLog.close();
    throw error;
  }
}

function listen(server: net.Server, hostPort: string, name: string): Promise<{ host: string; port: number }> {
  const split = hostPort.lastIndexOf(":");
  const host = hostPort.slice(0, split).replace(/^\[|\]$/g, "");
  const port = Number(hostPort.slice(split + 1));
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new LatchError("config_invalid", {
          detail: `cannot listen for ${name} on ${hostPort}: ${error.code ?? error.message}${error.code === "EADDRINUSE" ? ` (another process holds the port; change listen.${name})` : ""}`,
        }),
      ),
    );
    server.listen(port, host, () => {
      const address = server.address() as net.AddressInfo;
      resolve({ host: address.address, port: address.port });
    });
  });
}
