import type { Client, ClientChannel, ServerChannel } from "ssh2";
import { LatchError } from "../../errors.js";
import type { OperationResult } from "../../pipeline/pipeline-types.js";
import { AsciicastRecorder } from "./asciicast-recorder.js";
import { captureChannelEnd, hangUp, type RelayOutcome, relayChannel } from "./channel-relay.js";
import { DENIED_EXIT_STATUS, sshErrorLine, UPSTREAM_FAILED_EXIT_STATUS } from "./errors.js";
import type { ChannelState, SshSessionContext } from "./session-context.js";
import { MAX_COMMAND_BYTES, type SshVerb } from "./ssh-operation.js";

/**
 * One exec, shell or subsystem channel: recorded (no recording, no command), admitted (a held command waits
 * and is abandoned if its channel goes away), then relayed to a channel on the target; the outcome goes back
 * to the pipeline. Denials answer on the channel's stderr with exit status 126.
 */
export async function runChannel(
  context: SshSessionContext,
  front: ServerChannel | undefined,
  state: ChannelState,
  number: number,
  verb: SshVerb,
  text: string,
  mode: string,
): Promise<void> {
  if (front === undefined) return;
  const newline = state.pty === undefined ? "\n" : "\r\n";
  const operation = context.operation(verb, text, mode);
  const started = performance.now();
  let recorder: AsciicastRecorder | undefined;
  let up: ClientChannel | undefined;
  const failClosed = (error: unknown) => {
    context.options.log.error({ err: error, operationId: operation.id }, "recording failed; channel stopped");
    front.stderr.write(sshErrorLine(new LatchError("audit_unavailable"), newline));
    if (up !== undefined) hangUp(up);
    front.close();
  };
  const record = (write: () => void) => {
    try {
      write();
    } catch (error) {
      failClosed(error);
    }
  };
  const tapped = (write: () => void) => {
    record(write);
    return recorder?.backlog();
  };
  const say = (line: string) => {
    const text = sshErrorLine(line, newline);
    front.stderr.write(text);
    if (recorder !== undefined) record(() => recorder?.output(Buffer.from(text), "stderr"));
  };
  const finish = (status: number, result: Omit<OperationResult, "durationMs" | "rows" | "commandTags">) => {
    front.exit(status);
    front.end();
    if (recorder !== undefined) record(() => recorder?.close());
    context.options.pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: 0,
      commandTags: [`exit ${status}`],
      ...result,
    });
  };

  if (verb === "ssh:exec" || verb === "ssh:shell") {
    try {
      recorder = new AsciicastRecorder({
        recording: number,
        header: {
          width: state.pty?.cols ?? 80,
          height: state.pty?.rows ?? 24,
          ...(verb === "ssh:exec" ? { command: text } : {}),
          ...(state.pty === undefined ? {} : { env: { TERM: state.pty.term } }),
        },
        write: context.options.recordChunk,
        onFailure: failClosed,
        ...(context.options.maskOutput === undefined ? {} : { maskOutput: context.options.maskOutput }),
      });
      state.recorder = recorder;
      await recorder.ready;
    } catch (error) {
      // No recording, no command.
      context.options.log.error({ err: error }, "recording could not start");
      front.stderr.write(sshErrorLine(new LatchError("audit_unavailable"), newline));
      front.exit(DENIED_EXIT_STATUS);
      front.end();
      return;
    }
  }
  if (Buffer.byteLength(text) > MAX_COMMAND_BYTES) {
    const error = new LatchError("message_too_large", {
      size: Buffer.byteLength(text),
      limit: MAX_COMMAND_BYTES,
    });
    context.options.pipeline.recordRefusal(operation, error);
    say(error.message);
    return finish(DENIED_EXIT_STATUS, { error: { code: error.code, message: error.message } });
  }

  // A held command is abandoned when its channel or the whole session goes away: it must never run later.
  const channelGone = new AbortController();
  const abandon = () => channelGone.abort();
  front.once("close", abandon);
  context.options.session.signal.addEventListener("abort", abandon, { once: true });
  const admission = await context.admit(operation, {
    signal: channelGone.signal,
    onHeld: (hold) =>
      say(
        `waiting for approval by ${hold.approval.quorum === 1 ? "one member" : `${hold.approval.quorum} members`} of group "${hold.approval.group}" (request ${hold.requestId}; approve with: latch requests approve ${hold.requestId}) ...`,
      ),
  });
  front.removeListener("close", abandon);
  context.options.session.signal.removeEventListener("abort", abandon);
  if (!context.isOpen(front)) {
    recorder?.close();
    if (admission.allowed) {
      context.options.pipeline.complete(operation, {
        durationMs: performance.now() - started,
        rows: 0,
        commandTags: [],
        error: { code: "client_disconnected", message: "the client left before the command started" },
      });
    }
    return;
  }
  if (!admission.allowed) {
    say(admission.error.message);
    return finish(DENIED_EXIT_STATUS, {});
  }

  try {
    up = await openUpstreamChannel(await context.options.upstream(), verb, text, state);
  } catch (error) {
    const latchError =
      error instanceof LatchError
        ? error
        : new LatchError("upstream_unavailable", {
            name: context.options.session.connection,
            reason: (error as Error).message ?? "channel refused",
          });
    say(latchError.message);
    return finish(UPSTREAM_FAILED_EXIT_STATUS, {
      error: { code: latchError.code, message: latchError.message },
    });
  }
  const upChannel = up;
  state.up = upChannel;
  context.trackUpstream(upChannel);
  const session = context.options.session;
  const outcome = await relayChannel(front, upChannel, {
    output: (chunk, stream) => {
      session.touch();
      return recorder === undefined ? undefined : tapped(() => recorder?.output(chunk, stream));
    },
    input: (chunk) => {
      session.touch();
      return recorder === undefined ? undefined : tapped(() => recorder?.input(chunk));
    },
  });
  if (recorder !== undefined) record(() => recorder?.close());
  context.options.pipeline.complete(operation, {
    durationMs: performance.now() - started,
    rows: 0,
    commandTags: [tagOf(outcome)],
    ...(outcome.clientGone
      ? {
          error: {
            code: "client_disconnected",
            message: "the client disconnected; the remote process was sent TERM",
          },
        }
      : {}),
  });
}

function openUpstreamChannel(
  client: Client,
  verb: SshVerb,
  text: string,
  state: ChannelState,
): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | undefined, channel: ClientChannel) => {
      if (error) return reject(error);
      // A fast command's exit status can arrive in the same read as the channel's opening, before the relay
      // is attached after the await below: capture it now.
      captureChannelEnd(channel);
      resolve(channel);
    };
    const pty =
      state.pty === undefined
        ? undefined
        : {
            rows: state.pty.rows,
            cols: state.pty.cols,
            height: state.pty.height,
            width: state.pty.width,
            term: state.pty.term,
          };
    if (verb === "ssh:exec")
      client.exec(text, { env: state.env, ...(pty === undefined ? {} : { pty }) }, done);
    else if (verb === "ssh:shell") client.shell(pty ?? false, { env: state.env }, done);
    else client.subsys(text, done);
  });
}

function tagOf(outcome: RelayOutcome): string {
  if (outcome.code !== undefined) return `exit ${outcome.code}`;
  if (outcome.signal !== undefined) return `signal ${outcome.signal}`;
  return "closed";
}
