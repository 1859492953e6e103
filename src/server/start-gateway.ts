import type { Logger } from "pino";
import { startAdminServer } from "../admin/admin-server.js";
import type { LoadedConfig } from "../config/load-config.js";
import { startupWarnings } from "../config/startup-warnings.js";
import { loadOrCreateGatewayId } from "../credentials/gateway-id.js";
import { LatchError } from "../errors.js";
import { createTokenVerifier } from "../identity/create-token-verifier.js";
import { parseDuration } from "../identity/parse-duration.js";
import { createMetrics } from "../observability/metrics.js";
import type { UpstreamReadiness } from "../observability/upstream-readiness.js";
import { AuditBatcher } from "../pipeline/audit-batcher.js";
import { OperationPipeline } from "../pipeline/operation-pipeline.js";
import type { PolicyReach } from "../protocols/agent-services.js";
import type { AgentToolRunners } from "../protocols/agent-tools.js";
import type { HttpMount } from "../protocols/http-mount.js";
import type { ProtocolListener } from "../protocols/protocol-module.js";
import { startBlockSweep } from "../session/block-sweep.js";
import { systemClock } from "../session/clock.js";
import { LiveSessionDirectory } from "../session/live-session-directory.js";
import { SessionGate } from "../session/session-gate.js";
import { SessionRegistry } from "../session/session-registry.js";
import { openStores } from "../store/open-stores.js";
import { postgresStoreConfig } from "../store/postgres/pg-store-config.js";
import type { AuditEventInput, AuditReader } from "../store/store.js";
import { tokenExchangeMount } from "../token-exchange/token-exchange-routes.js";
import { startOperationTracing } from "../tracing/operation-tracing.js";
import { createApprovalDesk, createPolicyPreview } from "./agent-services.js";
import { bridgeClusterEvents } from "./cluster-bridge.js";
import { createLogger } from "./logger.js";
import { PolicyHolder } from "./policy-holder.js";
import { PROTOCOL_MODULES } from "./protocol-modules.js";
import { type GatewayApprovals, startApprovals } from "./start-approvals.js";
import { startAuditTrust } from "./start-audit-trust.js";
import { startReadiness } from "./start-readiness.js";
import { prepareLatchIssuer, startTokenExchange } from "./start-token-exchange.js";
import { loadTlsMaterial } from "./tls-material.js";
import { clusterScrape } from "./workers/cluster-metrics.js";

type Address = { host: string; port: number };

export interface RunningGateway {
  /** Where each protocol listens; a protocol with no configured connection has no listener. */
  readonly listeners: ReadonlyMap<string, Address>;
  /** The PostgreSQL listener (throws when no postgres connection is configured). */
  readonly postgresAddress: Address;
  readonly sshAddress: Address | undefined;
  /** What protocols serve on the HTTP listener (the MCP endpoint), for tests that mount them on their own server. */
  readonly httpMounts: readonly HttpMount[];
  readonly adminAddress: Address;
  /** Every live session of every protocol. */
  readonly sessions: SessionRegistry;
  /** Read side of the audit log (the write side is the pipeline's). */
  readonly audit: AuditReader;
  /** Resolves once every event recorded so far is durable. */
  flushAudit(): Promise<void>;
  readonly log: Logger;
  /** Re-reads policies; the old set stays in force if the new one is invalid. */
  reloadPolicies(): Promise<{ policies: number; sessionsEnded: number }>;
  stop(): Promise<void>;
}

/** The composition root: reads config, builds every piece, starts the listeners of the configured protocols. */
export async function startGateway(
  loaded: LoadedConfig,
  options: {
    log?: Logger;
    /** A worker of `latch serve --workers N`: its own replica id, not data_dir's (which its siblings share). */
    gatewayId?: string;
    /** The worker's number, on every metric as `worker` (a scrape of the shared admin port is one worker's). */
    worker?: number;
  } = {},
): Promise<RunningGateway> {
  const { config } = loaded;
  const log = options.log ?? createLogger(config.log_level);
  const metrics = createMetrics();
  if (options.worker !== undefined) metrics.registry.setDefaultLabels({ worker: String(options.worker) });
  const policies = await PolicyHolder.load(config);
  for (const warning of startupWarnings(config, policies.engine.policyCount))
    log.warn({ code: warning.code }, warning.message);
  // Seconds per million events (docs/audit.md): say so before, not only after.
  log.info({ dataDir: config.data_dir }, "verifying the audit store");
  const gatewayId = options.gatewayId ?? loadOrCreateGatewayId(config.data_dir);
  const stores = await openStores(config, {
    gatewayId,
    onVerified: (report, elapsedMs) =>
      log.info(
        {
          events: report.events,
          head: report.head.seq,
          acknowledgedBreaks: report.acknowledged?.length ?? 0,
          elapsedMs,
        },
        "audit store verified",
      ),
  });
  metrics.watchAuditHealth(() => stores.health());
  let readiness: UpstreamReadiness | undefined;
  let approvals: GatewayApprovals | undefined;
  const listeners = new Map<string, ProtocolListener>();
  const httpMounts: HttpMount[] = [];
  // The store-wide list of live sessions: every replica's, with heartbeats; a gone replica's sessions are ended
  // on the record by whichever survivor notices first.
  let recordEvent: (event: AuditEventInput) => void = () => undefined;
  const directory = new LiveSessionDirectory({
    store: stores.liveSessions,
    gatewayId,
    clock: systemClock,
    heartbeatMs: parseDuration(config.health.heartbeat_interval),
    staleAfterMs: parseDuration(config.health.gateway_gone_after),
    onStaleSessions: (sessions) => {
      for (const session of sessions) {
        log.warn(
          { sessionId: session.id, gateway: session.gatewayId },
          "session of a gateway that stopped answering ended",
        );
        recordEvent({
          kind: "session_end",
          sessionId: session.id,
          data: { reason: "gateway_lost", gatewayId: session.gatewayId, lastSeen: session.lastSeen },
        });
      }
    },
    onError: (error, what) =>
      log.warn({ err: error, what }, "live session directory could not reach the store"),
  });
  const registry = new SessionRegistry(directory);
  let tracing: ReturnType<typeof startOperationTracing> | undefined;
  try {
    const tlsMaterial = await loadTlsMaterial(config);
    const latchIssuer = await prepareLatchIssuer(config);
    const verifier = createTokenVerifier(config.identity, {
      dataDir: config.data_dir,
      ...(latchIssuer === undefined ? {} : { localIssuer: latchIssuer.local }),
    });
    // One ordered writer for every event of the gateway (operations, approvals, sessions).
    const startHead = { ...stores.audit.head() };
    const audit = new AuditBatcher(stores.audit);
    const pipeline = new OperationPipeline(
      () => policies.engine,
      audit,
      metrics,
      log,
      () => approvals?.pipeline,
    );
    // Approval events go through the pipeline's writer too: the chain reads operation -> request -> release.
    recordEvent = (event) => pipeline.record(event);
    const approval = await startApprovals({
      config,
      policy: () => policies.engine,
      store: stores.approvals,
      sharedStore: postgresStoreConfig(config.store) !== undefined,
      audit: (event) => pipeline.recordDurably(event),
      log,
    });
    approvals = approval;
    const blocks = stores.blocks;
    const gate = new SessionGate({
      connections: config.connections,
      verifier,
      blocks,
      registry,
      audit: pipeline,
      metrics,
      log,
    });
    // Off by default: then nothing is wrapped and the statement path is untouched.
    if (config.observability.otlp_traces !== undefined)
      tracing = startOperationTracing(config.observability.otlp_traces, { pipeline, gate });

    // Live revocation: a revoked grant ends its principal's open sessions on that connection at once.
    approval.service.subscribe((update) => {
      if (update.type !== "grant" || update.grant.revokedAt === null) return;
      const { id, principal, connection } = update.grant;
      registry.terminateWhere(
        (session) => session.subject === principal && session.connection === connection,
        new LatchError("session_terminated", { reason: `grant ${id} was revoked` }),
        `grant ${id} revoked`,
      );
    });

    const agentTools: AgentToolRunners = {};
    const context = {
      httpMounts,
      agentTools,
      policyPreview: createPolicyPreview(() => policies.engine),
      policyReach: (question: Parameters<PolicyReach>[0]) => policies.reach(question),
      approvalDesk: createApprovalDesk(approval.service, approval.judgeUpfront, config.approvals.console_url),
      toolPins: stores.mcpToolPins,
      config,
      gate,
      pipeline,
      metrics,
      log,
      tls: tlsMaterial.context,
      gatewayId,
      staleGateways: () => directory.staleGateways(),
      onGatewaysGone: (listener: () => void) => directory.onGatewaysGone(listener),
    };
    for (const module of PROTOCOL_MODULES) Object.assign(agentTools, module.agentTools?.(context));
    for (const module of PROTOCOL_MODULES) {
      const mount = await module.httpMount?.(context);
      if (mount !== undefined) httpMounts.push(mount);
    }
    const tokenExchange =
      latchIssuer === undefined
        ? undefined
        : startTokenExchange(latchIssuer, {
            config,
            verifier,
            recordDurably: (event) => pipeline.recordDurably(event),
            log,
            assertionClaims: stores.samlAssertionClaims,
          });
    if (tokenExchange !== undefined) httpMounts.push(tokenExchangeMount(tokenExchange.exchange));
    for (const module of PROTOCOL_MODULES) {
      const used =
        Object.values(config.connections).some((c) => c.type === module.connectionType) ||
        module.listensWithoutConnections?.(context) === true;
      if (!used || module.listenAddress(config) === undefined) continue;
      listeners.set(module.name, await module.start(context));
    }

    if (listeners.size === 0 && Object.keys(config.connections).length > 0)
      log.warn(
        { connections: Object.keys(config.connections) },
        "no connections are configured, so only the admin API listens: add connections to latch.yaml (see `latch config schema`)",
      );

    /** New policies apply to new operations at once, and end live sessions whose recent operations they deny. */
    const reloadHere = async (): Promise<{ policies: number; sessionsEnded: number }> => {
      const policy = await policies.reload();
      const sessionsEnded = registry.revalidate(policy);
      log.info({ policies: policy.policyCount, sessionsEnded }, "policies reloaded");
      return { policies: policy.policyCount, sessionsEnded };
    };
    // A reload through any gateway (SIGHUP, API) is a reload on every gateway of the store.
    const reloadPolicies = async (): Promise<{ policies: number; sessionsEnded: number }> => {
      const result = await reloadHere();
      await stores.events
        .publish({ kind: "policy_reloaded" })
        .catch((error: unknown) => log.warn({ err: error }, "other gateways were not told of the reload"));
      return result;
    };
    const detachCluster = bridgeClusterEvents({
      events: stores.events,
      approvals: approval.service,
      registry,
      reloadPolicies: reloadHere,
      log,
    });
    readiness = startReadiness(config, metrics, log);
    const admin = await startAdminServer({
      config,
      audit: stores.auditReader,
      consoleSessions: stores.consoleSessions,
      pendingSignIns: stores.pendingSignIns,
      samlAssertionClaims: stores.samlAssertionClaims,
      checkStore: () => stores.check(),
      storeHealth: () => stores.health(),
      readiness,
      metrics,
      ...(options.worker === undefined
        ? {}
        : {
            scrapeMetrics: clusterScrape(metrics.registry, (reason) =>
              log.warn({ reason }, "/metrics answered with this worker's metrics only"),
            ),
          }),
      verifier,
      log,
      live: registry,
      policyCount: () => policies.engine.policyCount,
      reloadPolicies,
      ...(tokenExchange === undefined ? {} : { tokenExchange }),
      approvals: { service: approval.service, judgeUpfront: approval.judgeUpfront },
      mcpPins: { pins: stores.mcpToolPins, record: (event) => pipeline.recordDurably(event) },
      sessionControl: {
        registry,
        blocks,
        events: stores.events,
        gatewayId,
        liveSessions: stores.liveSessions,
        findSession: (id) => stores.auditReader.getSession(id),
        record: (event) => pipeline.recordDurably(event),
      },
    });
    await pipeline.recordDurably({
      kind: "gateway_start",
      sessionId: null,
      data: {
        // The head this start continues from: a later check can tell whether history was cut off since.
        chainHead: startHead,
        connections: Object.keys(config.connections),
        protocols: [...listeners.keys()],
        policies: policies.engine.policyCount,
        tlsCert: tlsMaterial.certFile,
      },
    });
    const auditTrust = startAuditTrust({
      config,
      stores,
      recordDurably: (event) => pipeline.recordDurably(event),
      log,
      metrics,
    });
    await directory.start();
    const stopBlockSweep = stores.events.shared
      ? startBlockSweep({
          blocks,
          registry,
          clock: systemClock,
          intervalMs: parseDuration(config.health.heartbeat_interval),
          onError: (error) => log.warn({ err: error }, "block sweep could not read the block list"),
        })
      : () => undefined;
    const addresses = new Map([...listeners].map(([name, listener]) => [name, listener.address]));
    log.info(
      {
        ...Object.fromEntries(
          [...listeners].map(([name, l]) => [name, `${l.address.host}:${l.address.port}`]),
        ),
        ...Object.assign({}, ...[...listeners.values()].map((l) => l.details ?? {})),
        admin: `${admin.address.host}:${admin.address.port}`,
        policies: policies.engine.policyCount,
        connections: Object.keys(config.connections),
        gatewayId,
      },
      "gateway ready",
    );
    return {
      listeners: addresses,
      get postgresAddress() {
        const address = addresses.get("postgres");
        if (address === undefined)
          throw new Error("no PostgreSQL listener: configure a connection of type postgres");
        return address;
      },
      sshAddress: addresses.get("ssh"),
      httpMounts,
      adminAddress: admin.address,
      sessions: registry,
      audit: stores.auditReader,
      flushAudit: () => pipeline.flush(),
      log,
      reloadPolicies,
      async stop() {
        detachCluster();
        stopBlockSweep();
        // Drain: no new connections, every session ends once its running statement finished, then the rest is cut.
        for (const listener of listeners.values()) listener.stopAccepting();
        const drain = await registry.drain(
          new LatchError("gateway_shutting_down"),
          "gateway shutting down",
          parseDuration(config.limits.drain_timeout),
        );
        if (drain.drained + drain.cut > 0) log.info(drain, "sessions drained");
        for (const listener of listeners.values()) await listener.close();
        for (const mount of httpMounts) await mount.close();
        readiness?.stop();
        await admin.close();
        await approval.close(); // after the sessions, so held requests end as abandoned
        await directory.stop(); // after the sessions: their removal from the store-wide list is written first
        // A last signed checkpoint, then gateway_stop: a clean stop still ends with gateway_stop.
        await auditTrust.stop();
        pipeline.record({ kind: "gateway_stop", sessionId: null, data: {} });
        // A broken audit log must not stop the shutdown; it was already failing closed and reported.
        await pipeline
          .flush()
          .catch((error: unknown) => log.error({ err: error }, "audit log not flushed at shutdown"));
        await tracing?.shutdown().catch(() => undefined);
        await stores.close();
      },
    };
  } catch (error) {
    await directory.stop();
    readiness?.stop();
    for (const listener of listeners.values()) await listener.close().catch(() => undefined);
    for (const mount of httpMounts) await mount.close().catch(() => undefined);
    await approvals?.close();
    await tracing?.shutdown().catch(() => undefined);
    await stores.close();
    throw error;
  }
}
