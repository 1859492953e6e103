import type { Logger } from "pino";
import type { ClientChannel, Client as SshClient } from "ssh2";
import type { LatchConfig, SshConnectionConfig } from "../../config/schema.js";
import { asLatchError, LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { createRecordingMasker } from "../../masking/text-masker.js";
import type { SshExecRequest, SshExecResult, SshExecRunner } from "../agent-tools.js";
import { AsciicastRecorder, RECORDING_EVENT_KIND } from "./asciicast-recorder.js";
import { hangUp } from "./channel-relay.js";
import { MAX_COMMAND_BYTES, sshOperation } from "./ssh-operation.js";
import { connectSshUpstream, sshCredentialProvider, sshTargetOf } from "./upstream.js";

/**
 * The MCP `ssh_exec` tool's way in: one command as the same `ssh:exec` operation an interactive
 * `ssh web-1 'cmd'` makes (context.command is the command line), admitted before the target is dialled, run
 * with the connection's injected key on a target whose host key matches the pin, recorded as asciicast like
 * an SSH exec channel (in the tool session's audit chain), its output masked by the connection's content
 * detectors before the agent or the record sees it. Each call logs in afresh and logs out when the command
 * ends, so no upstream login outlives a call.
 */
export function createSshToolRunner(deps: {
  readonly config: LatchConfig;
  readonly log: Logger;
}): SshExecRunner | undefined {
  const connections = new Map<string, SshConnectionConfig>();
  const maskers = new Map<string, (text: string) => string>();
  for (const [name, connection] of Object.entries(deps.config.connections)) {
    if (connection.type !== "ssh") continue;
    connections.set(name, connection);
    const mask = createRecordingMasker(connection.masking, deps.config.masking);
    if (mask !== undefined) maskers.set(name, mask);
  }
  if (connections.size === 0) return undefined;
  let recordings = 0;
  return {
    connections: () => [...connections.keys()],
    exec: (request) => {
      const connection = connections.get(request.session.connection);
      if (connection === undefined)
        return Promise.resolve(
          refused(new LatchError("connection_unknown", { name: request.session.connection })),
        );
      recordings += 1;
      return execOnce(request, connection, maskers.get(request.session.connection), recordings, deps.log);
    },
    close: async () => undefined,
  };
}

function refused(error: LatchError): SshExecResult {
  return { ran: false, code: error.code, message: error.message };
}

async function execOnce(
  request: SshExecRequest,
  connection: SshConnectionConfig,
  mask: ((text: string) => string) | undefined,
  recording: number,
  log: Logger,
): Promise<SshExecResult> {
  const { session, pipeline, command } = request;
  const name = session.connection;
  const operation = sshOperation(
    { sessionId: session.id, connection: name, identity: session.identity },
    "ssh:exec",
    command,
    "exec",
  );
  if (Buffer.byteLength(command) > MAX_COMMAND_BYTES) {
    const error = new LatchError("message_too_large", {
      size: Buffer.byteLength(command),
      limit: MAX_COMMAND_BYTES,
    });
    pipeline.recordRefusal(operation, error);
    return refused(error);
  }
  let channel: ClientChannel | undefined;
  let recordingFailed = false;
  // No recording, no command: the header is durable before the command is judged, as on the SSH listener.
  const recorder = new AsciicastRecorder({
    recording,
    header: { width: 80, height: 24, command },
    write: (chunk) =>
      pipeline.recordDurably({ kind: RECORDING_EVENT_KIND, sessionId: session.id, data: { ...chunk } }),
    onFailure: (error) => {
      recordingFailed = true;
      log.error({ err: error, operationId: operation.id }, "recording failed; ssh_exec stopped");
      if (channel !== undefined) hangUp(channel);
    },
    ...(mask === undefined ? {} : { maskOutput: mask }),
  });
  try {
    await recorder.ready;
  } catch (error) {
    log.error({ err: error }, "ssh_exec recording could not start");
    return refused(new LatchError("audit_unavailable"));
  }

  const admission = await pipeline.admit(
    operation,
    { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels },
    { signal: AbortSignal.any([request.signal, session.signal]) },
  );
  if (!admission.allowed) {
    recorder.close();
    return refused(admission.error);
  }
  if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
  session.remember(operation.steps);

  const started = performance.now();
  const complete = (tag: string, error?: LatchError) =>
    pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: 0,
      commandTags: [tag],
      ...(error === undefined ? {} : { error: { code: error.code, message: error.message } }),
    });
  let client: SshClient | undefined;
  try {
    const target = sshTargetOf(name, connection, parseDuration(connection.connect_timeout));
    const credential = await sshCredentialProvider(name, connection).issue({
      sessionId: session.id,
      identity: session.identity,
      connection: name,
    });
    client = await connectSshUpstream(target, connection, credential);
    client.on("error", (error) => log.debug({ err: error, connection: name }, "ssh_exec upstream error"));
    const opened = client;
    // Listeners go on inside the callback: a fast command's output and exit status can arrive in the same
    // read as the channel's opening, before an await would resume.
    const outcome = await new Promise<ExecOutcome>((resolve, reject) =>
      opened.exec(command, (error, up) => {
        if (error) return reject(error);
        channel = up;
        resolve(collect(up, recorder, request, () => recordingFailed));
      }),
    );
    recorder.close();
    const stdout = mask === undefined ? outcome.stdout : mask(outcome.stdout);
    const stderr = mask === undefined ? outcome.stderr : mask(outcome.stderr);
    if (recordingFailed) {
      const error = new LatchError("audit_unavailable");
      complete("stopped", error);
      return refused(error);
    }
    complete(
      outcome.exitCode !== null ? `exit ${outcome.exitCode}` : `signal ${outcome.signal ?? "?"}`,
      outcome.cancelled
        ? new LatchError("session_terminated", {
            reason: "the tool call was cancelled; the command was sent TERM",
          })
        : undefined,
    );
    return {
      ran: true,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      stdout,
      stderr,
      truncated: outcome.truncated,
    };
  } catch (cause) {
    recorder.close();
    const error =
      cause instanceof LatchError
        ? cause
        : new LatchError("upstream_unavailable", { name, reason: asLatchError(cause, operation.id).message });
    complete("failed", error);
    return refused(error);
  } finally {
    client?.end();
  }
}

interface ExecOutcome {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  truncated: boolean;
  cancelled: boolean;
}

/**
 * Reads both streams to the channel's close, keeping at most maxOutputBytes of each (decoded once at the end,
 * so a character split across reads stays whole); past the cap, or when the call is cancelled, the remote
 * process is sent TERM and the channel closed.
 */
function collect(
  channel: ClientChannel,
  recorder: AsciicastRecorder,
  request: SshExecRequest,
  stopped: () => boolean,
): Promise<ExecOutcome> {
  const cap = request.maxOutputBytes;
  const kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const sizes = { stdout: 0, stderr: 0 };
  const outcome: ExecOutcome = {
    stdout: "",
    stderr: "",
    exitCode: null,
    signal: null,
    truncated: false,
    cancelled: false,
  };
  return new Promise((resolve) => {
    const cancel = () => {
      outcome.cancelled = true;
      hangUp(channel);
    };
    const signal = AbortSignal.any([request.signal, request.session.signal]);
    if (signal.aborted) cancel();
    else signal.addEventListener("abort", cancel, { once: true });
    const take = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
      if (stopped()) return;
      request.session.touch();
      recorder.output(chunk, stream);
      const room = cap - sizes[stream];
      if (room > 0) kept[stream].push(chunk.subarray(0, room));
      sizes[stream] += chunk.length;
      if (sizes[stream] > cap && !outcome.truncated) {
        outcome.truncated = true;
        hangUp(channel);
      }
      const backlog = recorder.backlog();
      if (backlog !== undefined) {
        channel.pause();
        void backlog.then(() => channel.resume());
      }
    };
    channel.on("data", take("stdout"));
    channel.stderr.on("data", take("stderr"));
    channel.on("exit", (code: number | null, signalName?: string) => {
      if (code !== null && code !== undefined) outcome.exitCode = code;
      else outcome.signal = signalName ?? null;
    });
    channel.once("close", () => {
      signal.removeEventListener("abort", cancel);
      outcome.stdout = Buffer.concat(kept.stdout).toString("utf8");
      outcome.stderr = Buffer.concat(kept.stderr).toString("utf8");
      resolve(outcome);
    });
    // The command gets no input: stdin is closed at once, as `ssh -n host cmd` does.
    channel.end();
  });
}
