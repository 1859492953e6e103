import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { isWorkerMessage, WORKER_GATEWAY_ID_ENV, WORKER_SLOT_ENV } from "./worker-messages.js";

export interface SupervisorOptions {
  readonly workers: number;
  readonly log: Logger;
  /** `limits.drain_timeout`: each worker's own drain; the primary waits that plus a margin, then kills. */
  readonly drainTimeoutMs: number;
  /** First restart delay, doubled per crash in a row up to maxRestartMs. */
  readonly restartBaseMs?: number;
  readonly maxRestartMs?: number;
  /** A slot whose worker exits before it is ready this many times in a row: the primary gives up. */
  readonly maxStartFailures?: number;
  /** A worker that served this long before it crashed starts its slot's backoff over. */
  readonly stableAfterMs?: number;
}

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  gatewayId: string;
  readyAt: number | undefined;
  /** Crashes in a row (for the backoff); reset by a worker that served stableAfterMs. */
  crashes: number;
  /** Exits before ready in a row (for giving up); reset by a worker that became ready. */
  startFailures: number;
  restart: NodeJS.Timeout | undefined;
}

const STOP_MARGIN_MS = 15_000;

/**
 * The primary of `latch serve --workers N`: forks N gateway processes that share every listener (node:cluster
 * hands each accepted connection to one worker, round robin, and the connection stays there), restarts a worker
 * that dies with a backoff, forwards SIGTERM/SIGINT so that every worker drains as a single gateway does, and
 * SIGHUP to one worker (which reloads every gateway of the store). It serves nothing itself and holds no state
 * a worker needs. Resolves the process exit code: 0 after a clean stop, 1 when a worker kept failing at start
 * or did not stop cleanly.
 */
export function superviseWorkers(options: SupervisorOptions): Promise<number> {
  const { log } = options;
  const restartBaseMs = options.restartBaseMs ?? 500;
  const maxRestartMs = options.maxRestartMs ?? 30_000;
  const maxStartFailures = options.maxStartFailures ?? 3;
  const stableAfterMs = options.stableAfterMs ?? 30_000;
  const slots: Slot[] = Array.from({ length: options.workers }, (_, index) => ({
    index,
    worker: undefined,
    gatewayId: "",
    readyAt: undefined,
    crashes: 0,
    startFailures: 0,
    restart: undefined,
  }));
  let announced = false;
  let stopping = false;
  let exitCode = 0;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });
  let forceTimer: NodeJS.Timeout | undefined;

  const live = () => slots.filter((slot) => slot.worker !== undefined);

  const fork = (slot: Slot) => {
    slot.restart = undefined;
    // A new id per incarnation: a worker that died is a gone replica to the others (its sessions ended on the
    // record, its upstream roles reaped), never confused with the one replacing it.
    slot.gatewayId = randomBytes(8).toString("hex");
    slot.readyAt = undefined;
    const worker = cluster.fork({
      [WORKER_SLOT_ENV]: String(slot.index),
      [WORKER_GATEWAY_ID_ENV]: slot.gatewayId,
    });
    slot.worker = worker;
    worker.on("message", (message: unknown) => {
      if (!isWorkerMessage(message) || message.latch !== "ready" || slot.worker !== worker) return;
      slot.readyAt = Date.now();
      slot.startFailures = 0;
      if (announced) {
        log.info(
          { worker: slot.index, pid: worker.process.pid, gatewayId: slot.gatewayId },
          "worker restarted and serving",
        );
      } else if (slots.every((s) => s.readyAt !== undefined)) {
        announced = true;
        log.info(
          {
            workers: slots.length,
            pids: slots.map((s) => s.worker?.process.pid),
            gatewayIds: slots.map((s) => s.gatewayId),
          },
          `${slots.length} workers serving`,
        );
      }
    });
    worker.on("exit", (code, signal) => exited(slot, worker, code, signal));
  };

  const exited = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const pid = worker.process.pid;
    if (stopping) {
      if (code !== 0) {
        exitCode = 1;
        log.error({ worker: slot.index, pid, code, signal }, "worker did not stop cleanly");
      }
      if (live().length === 0) done();
      return;
    }
    const now = Date.now();
    if (slot.readyAt === undefined) slot.startFailures++;
    else if (now - slot.readyAt >= stableAfterMs) slot.crashes = 0;
    slot.crashes++;
    if (slot.startFailures >= maxStartFailures) {
      log.error(
        { worker: slot.index, pid, code, signal, startFailures: slot.startFailures },
        "a worker failed at start again and again (its error is above): giving up",
      );
      stop("start failures", 1);
      return;
    }
    const delay = Math.min(maxRestartMs, restartBaseMs * 2 ** (slot.crashes - 1));
    log.error(
      { worker: slot.index, pid, code, signal, gatewayId: slot.gatewayId, restartInMs: delay },
      slot.readyAt === undefined ? "worker failed at start; restarting it" : "worker died; restarting it",
    );
    slot.restart = setTimeout(() => fork(slot), delay);
  };

  const done = () => {
    if (forceTimer !== undefined) clearTimeout(forceTimer);
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.off(signal, handlers[signal]);
    finish(exitCode);
  };

  const stop = (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const slot of slots) if (slot.restart !== undefined) clearTimeout(slot.restart);
    const running = live();
    log.info({ why, workers: running.length }, "stopping every worker");
    if (running.length === 0) return done();
    // Each worker runs the single gateway's shutdown: stop accepting, drain its sessions, gateway_stop, flush.
    for (const slot of running) slot.worker?.process.kill("SIGTERM");
    forceTimer = setTimeout(() => {
      exitCode = 1;
      for (const slot of live()) {
        log.error(
          { worker: slot.index, pid: slot.worker?.process.pid },
          "worker did not stop in time: killed",
        );
        slot.worker?.process.kill("SIGKILL");
      }
    }, options.drainTimeoutMs + STOP_MARGIN_MS);
  };

  const reload = () => {
    const target = slots.find((slot) => slot.readyAt !== undefined && slot.worker?.isConnected());
    if (target === undefined) {
      log.warn("SIGHUP: no worker is serving yet, so no policy reload");
      return;
    }
    target.worker?.send({ latch: "reload" });
  };
  const handlers = {
    SIGTERM: () => stop("SIGTERM", 0),
    SIGINT: () => stop("SIGINT", 0),
    SIGHUP: reload,
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, handlers[signal]);

  log.info({ workers: slots.length }, `starting ${slots.length} workers`);
  for (const slot of slots) fork(slot);
  return finished;
}
