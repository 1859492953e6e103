import type { Logger } from "pino";
import { ApprovalService } from "../approvals/approval-service.js";
import type { ApprovalStore } from "../approvals/approval-store.js";
import type { ApprovalAuditEvent } from "../approvals/approval-types.js";
import { createUpfrontJudge, type UpfrontJudge } from "../approvals/upfront-judge.js";
import { createWebhookNotifier, type WebhookNotifier } from "../approvals/webhook-notifier.js";
import type { LatchConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { PipelineApprovals } from "../pipeline/pipeline-types.js";
import type { PolicyEngine } from "../policy/policy-engine.js";

export interface GatewayApprovals {
  readonly service: ApprovalService;
  /** What the pipeline's approve stage needs. */
  readonly pipeline: PipelineApprovals;
  readonly judgeUpfront: UpfrontJudge;
  /** Stops the sweeper and webhook retries (the approval store belongs to the gateway's Stores). */
  close(): Promise<void>;
}

export interface ApprovalDeps {
  readonly config: LatchConfig;
  readonly policy: () => PolicyEngine;
  /** Requests, votes and grants (Stores.approvals). */
  readonly store: ApprovalStore;
  /** Several gateways share the store (see ApprovalServiceOptions.sharedStore). */
  readonly sharedStore?: boolean;
  /**
   * The gateway's ordered audit writer (the pipeline's): resolves once the event is durable, rejects on
   * failure, and a vote or request that cannot be recorded is refused (the service relies on the rejection).
   */
  readonly audit: (event: ApprovalAuditEvent) => Promise<void>;
  readonly log: Logger;
}

/**
 * Builds just-in-time approval for the gateway: the service over the approval store, signed
 * webhooks fed by the service's updates, and the judge for requests made up front. Webhook secrets are resolved
 * here, once, so a missing secret stops startup instead of the first notification.
 */
export async function startApprovals(deps: ApprovalDeps): Promise<GatewayApprovals> {
  const { config } = deps;
  const settings = config.approvals;
  const timeoutMs = parseDuration(settings.timeout);
  const targets = settings.webhooks.map((hook, index) => ({
    url: hook.url,
    format: hook.format,
    secret: resolveSecret(hook.secret, `approvals.webhooks[${index}].secret`),
  }));
  // Held requests a previous run left are closed (abandoned, audited) before the gateway serves.
  const service = await ApprovalService.open({
    store: deps.store,
    audit: deps.audit,
    maxGrantMs: parseDuration(settings.max_grant),
    requestTimeoutMs: timeoutMs,
    log: deps.log,
    sharedStore: deps.sharedStore === true,
  });
  let notifier: WebhookNotifier | undefined;
  let unsubscribe = () => {};
  if (targets.length > 0) {
    const webhooks = createWebhookNotifier({
      targets,
      ...(settings.console_url === undefined ? {} : { consoleUrl: settings.console_url }),
      log: deps.log,
    });
    notifier = webhooks;
    // The gateway where a change was made notifies; the others hear of it (remote) and stay quiet.
    const stop = service.subscribe((update) => {
      if (update.remote !== true) webhooks.notify(update);
    });
    unsubscribe = () => void stop();
  }
  const connectionLabels = (name: string) => config.connections[name]?.labels;
  return {
    service,
    pipeline: { gate: service, mode: settings.mode, timeoutMs },
    judgeUpfront: createUpfrontJudge(deps.policy, connectionLabels),
    async close() {
      unsubscribe();
      await service.close();
      notifier?.close();
    },
  };
}
