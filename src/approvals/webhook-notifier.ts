import { randomUUID } from "node:crypto";
import type { ApprovalUpdate } from "./approval-types.js";
import { jsonPayload, slackPayload, type WebhookFormat } from "./notification-payloads.js";
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhookBody, TIMESTAMP_HEADER } from "./webhook-signature.js";

export interface WebhookTarget {
  readonly url: string;
  /** Resolved secret (config holds only a reference). */
  readonly secret: string;
  readonly format: WebhookFormat;
}

export interface WebhookNotifierOptions {
  readonly targets: readonly WebhookTarget[];
  readonly consoleUrl?: string;
  /** Attempts per delivery, first one included. Default 5. */
  readonly maxAttempts?: number;
  /** First retry delay; doubles each attempt (with ±20% jitter), capped at 60 s. Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Per-attempt timeout. Default 5000 ms. */
  readonly attemptTimeoutMs?: number;
  /** Deliveries waiting or in flight beyond this are dropped (and logged). Default 1000. */
  readonly maxPending?: number;
  readonly log?: {
    warn(object: unknown, message: string): void;
    error(object: unknown, message: string): void;
  };
}

export interface WebhookNotifier {
  /** Queues the update for every target and returns at once: never blocks the data path. */
  notify(update: ApprovalUpdate): void;
  /** Resolves when nothing is queued or in flight (tests, shutdown). */
  idle(): Promise<void>;
  /** Stops retries; deliveries in flight finish or time out. */
  close(): void;
}

const MAX_DELAY_MS = 60_000;

/** Signed outgoing webhooks with retries and exponential backoff. */
export function createWebhookNotifier(options: WebhookNotifierOptions): WebhookNotifier {
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 5000;
  const maxPending = options.maxPending ?? 1000;
  let pending = 0;
  let closed = false;
  let idleWaiters: (() => void)[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const done = () => {
    pending -= 1;
    if (pending === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  };

  const deliver = async (
    target: WebhookTarget,
    body: string,
    deliveryId: string,
    timestamp: number,
    attempt: number,
  ) => {
    let retry = true;
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: signWebhookBody(target.secret, body),
          [TIMESTAMP_HEADER]: String(timestamp),
          [DELIVERY_HEADER]: deliveryId,
        },
        body,
        signal: AbortSignal.timeout(attemptTimeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return done();
      // A 4xx other than timeout/rate limit means the receiver refuses this body: retrying will not help.
      retry = response.status >= 500 || response.status === 408 || response.status === 429;
      options.log?.warn(
        { url: redact(target.url), status: response.status, attempt, deliveryId },
        "webhook delivery refused",
      );
    } catch (error) {
      options.log?.warn(
        { url: redact(target.url), err: (error as Error).message, attempt, deliveryId },
        "webhook delivery failed",
      );
    }
    if (!retry || closed || attempt >= maxAttempts) {
      if (retry) options.log?.error({ url: redact(target.url), deliveryId }, "webhook delivery given up");
      return done();
    }
    const delay = Math.min(MAX_DELAY_MS, baseDelayMs * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
    const timer = setTimeout(() => {
      timers.delete(timer);
      void deliver(target, body, deliveryId, timestamp, attempt + 1);
    }, delay);
    timer.unref();
    timers.add(timer);
  };

  return {
    notify(update) {
      if (closed) return;
      for (const target of options.targets) {
        if (pending >= maxPending) {
          options.log?.error({ url: redact(target.url) }, "webhook queue full; notification dropped");
          continue;
        }
        const deliveryId = randomUUID();
        const timestamp = Math.floor(Date.now() / 1000);
        const body =
          target.format === "slack"
            ? slackPayload(update, options.consoleUrl)
            : jsonPayload(update, deliveryId, timestamp, options.consoleUrl);
        pending += 1;
        void deliver(target, body, deliveryId, timestamp, 1);
      }
    },
    idle() {
      return pending === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
    close() {
      closed = true;
      for (const timer of timers) {
        clearTimeout(timer);
        done();
      }
      timers.clear();
    },
  };
}

/** Webhook URLs often carry a token in the path (Slack): log only the origin. */
function redact(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(invalid url)";
  }
}
