/**
 * `/metrics` of `latch serve --workers N` answers for the whole host: whichever worker takes the scrape asks the
 * primary, the primary gathers every worker's registry with prom-client's AggregatorRegistry (over the cluster
 * IPC channel) and sends the text back. Every series keeps its `worker` label, so nothing is summed across
 * workers by accident; a scraper sums by label as it would across replicas.
 */
import cluster from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { MetricsReply, MetricsRequest } from "./worker-messages.js";

/** How long a worker waits for the primary's aggregate before answering with its own metrics alone. */
const SCRAPE_TIMEOUT_MS = 6_000;

/** In the primary: answers every worker's request for the aggregate. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on("message", (worker, message: unknown) => {
    if (!isMetricsRequest(message)) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ latch: "metrics-reply", id: message.id, text } satisfies MetricsReply),
      (error: Error) =>
        worker.send({ latch: "metrics-reply", id: message.id, error: error.message } satisfies MetricsReply),
    );
  });
}

/**
 * In a worker: lets the primary read this worker's registry, and returns the scrape for /metrics. When the
 * primary does not answer (it is gone, a sibling hangs), the worker's own metrics are served and `onFallback`
 * says why: a scrape is never left waiting.
 */
export function clusterScrape(
  registry: Registry,
  onFallback: (reason: string) => void,
): () => Promise<string> {
  AggregatorRegistry.setRegistries(registry);
  new AggregatorRegistry(); // registers the worker's answer to the primary's gathering requests
  const pending = new Map<number, (reply: MetricsReply) => void>();
  let next = 0;
  process.on("message", (message: unknown) => {
    if (isMetricsReply(message)) pending.get(message.id)?.(message);
  });
  return () =>
    new Promise<string>((resolve) => {
      const id = next++;
      const own = (reason: string) => {
        onFallback(reason);
        registry.metrics().then(resolve, () => resolve(""));
      };
      const timer = setTimeout(() => {
        pending.delete(id);
        own("the primary did not answer in time");
      }, SCRAPE_TIMEOUT_MS);
      pending.set(id, (reply) => {
        clearTimeout(timer);
        pending.delete(id);
        if (reply.text !== undefined) resolve(reply.text);
        else own(reply.error ?? "no metrics");
      });
      if (process.send === undefined || !process.connected) {
        clearTimeout(timer);
        pending.delete(id);
        own("no primary to ask");
        return;
      }
      process.send({ latch: "metrics-request", id } satisfies MetricsRequest);
    });
}

function isMetricsRequest(message: unknown): message is MetricsRequest {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { latch?: unknown }).latch === "metrics-request" &&
    typeof (message as { id?: unknown }).id === "number"
  );
}

function isMetricsReply(message: unknown): message is MetricsReply {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { latch?: unknown }).latch === "metrics-reply" &&
    typeof (message as { id?: unknown }).id === "number"
  );
}
