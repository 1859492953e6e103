import type { Logger } from "pino";
import { ApprovalService } from "../approvals/approval-service.js";
import { createUpfrontJudge, type UpfrontJudge } from "../approvals/upfront-judge.js";
import { createWebhookNotifier, type WebhookNotifier } from "../approvals/webhook-notifier.js";
import type { LatchConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { PipelineApprovals } from "../pipeline/operation-pipeline.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import { sqliteStorePath } from "../store/open-store.js";
import { createSqliteApprovalStore } from "../store/sqlite-approvals.js";
import type { AuditEventInput } from "../store/store.js";

export interface GatewayApprovals {
  readonly service: ApprovalService;
  /** What the pipeline's approve stage needs. */
  readonly pipeline: PipelineApprovals;
  readonly judgeUpfront: UpfrontJudge;
  /** Stops the sweeper and webhook retries and closes the approval store. */
  close(): Promise<void>;
}

export interface ApprovalDeps {
  readonly config: LatchConfig;
  readonly policy: () => PolicyEngine;
  /**
   * Durable, synchronous audit write that throws on failure: a vote or request that cannot be recorded is
   * refused (the service relies on the throw).
   */
  readonly audit: (event: AuditEventInput) => void;
  readonly log: Logger;
}

/**
 * Builds just-in-time approval for the gateway: the approval store beside the audit log, the service, signed
 * webhooks fed by the service's updates, and the judge for requests made up front. Webhook secrets are resolved
 * here, once, so a missing secret stops startup instead of the first notification.
 */
export function startApprovals(deps: ApprovalDeps): GatewayApprovals {
  const { config } = deps;
  const settings = config.approvals;
  const timeoutMs = parseDuration(settings.timeout);
  const targets = settings.webhooks.map((hook, index) => ({
    url: hook.url,
    format: hook.format,
    secret: resolveSecret(hook.secret, `approvals.webhooks[${index}].secret`),
  }));
  const store = createSqliteApprovalStore(sqliteStorePath(config));
  let service: ApprovalService;
  try {
    service = new ApprovalService({
      store,
      audit: (event) => deps.audit({ kind: event.kind, sessionId: event.sessionId, data: event.data }),
      maxGrantMs: parseDuration(settings.max_grant),
      requestTimeoutMs: timeoutMs,
      log: deps.log,
    });
  } catch (error) {
    store.close();
    throw error;
  }
  let notifier: WebhookNotifier | undefined;
  let unsubscribe = () => {};
  if (targets.length > 0) {
    const webhooks = createWebhookNotifier({
      targets,
      ...(settings.console_url === undefined ? {} : { consoleUrl: settings.console_url }),
      log: deps.log,
    });
    notifier = webhooks;
    const stop = service.subscribe((update) => webhooks.notify(update));
    unsubscribe = () => void stop();
  }
  const connectionLabels = (name: string) => config.connections[name]?.labels;
  return {
    service,
    pipeline: { gate: service, mode: settings.mode, timeoutMs },
    judgeUpfront: createUpfrontJudge(deps.policy, connectionLabels),
    async close() {
      unsubscribe();
      service.close();
      notifier?.close();
      store.close();
    },
  };
}
