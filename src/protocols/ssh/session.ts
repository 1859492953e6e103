import type { Logger } from "pino";
import type { Client, ClientChannel, Connection, PseudoTtyInfo, ServerChannel, Session } from "ssh2";
import { LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import type {
  Admission,
  Admitter,
  ApprovalHold,
  OperationResult,
} from "../../pipeline/operation-pipeline.js";
import type { SessionHandle } from "../../session/session-handle.js";
import { AsciicastRecorder, type RecordingChunk } from "./asciicast-recorder.js";
import { captureChannelEnd, hangUp, type RelayOutcome, relayChannel } from "./channel-relay.js";
import { DENIED_EXIT_STATUS, sshErrorLine, sshExitStatusOf, UPSTREAM_FAILED_EXIT_STATUS } from "./errors.js";
import { MAX_COMMAND_BYTES, type SshVerb, sshOperation } from "./ssh-operation.js";

export interface SshSessionOptions {
  readonly session: SessionHandle;
  readonly pipeline: Admitter;
  /** The logged-in target (connected once, shared by the session's channels); rejects with a LatchError. */
  readonly upstream: () => Promise<Client>;
  /** Durable append of one recording chunk; rejects when the store cannot write. */
  readonly recordChunk: (chunk: RecordingChunk) => Promise<void>;
  readonly log: Logger;
  readonly maskOutput?: (text: string) => string;
  readonly onClose: (reason: string) => void;
}

/** Per session-channel state gathered from requests that come before exec/shell. */
interface ChannelState {
  pty?: PseudoTtyInfo;
  readonly env: Record<string, string>;
  /** Pending env/agent decisions: exec and shell wait for them so they start with the env policy allowed. */
  queue: Promise<void>;
  up?: ClientChannel;
  recorder?: AsciicastRecorder;
}

export { DENIED_EXIT_STATUS, UPSTREAM_FAILED_EXIT_STATUS } from "./errors.js";

/**
 * One authenticated SSH connection: every request the client makes (exec, shell, subsystem, env, forwarding)
 * becomes an Operation that the pipeline admits before anything reaches the target. Denials answer on the
 * channel's stderr with exit status 126 and leave the connection usable.
 */
export class SshSession {
  private channelNumber = 0;
  private closed = false;
  private readonly fronts = new Set<ServerChannel>();
  private readonly ups = new Set<ClientChannel>();

  constructor(
    private readonly client: Connection,
    private readonly options: SshSessionOptions,
  ) {}

  start(): void {
    this.client.on("session", (accept) => this.onSession(accept()));
    this.client.on("tcpip", (accept, reject, info) => {
      void this.onDirectTcpip(accept, reject, `${info.destIP}:${info.destPort}`, info);
    });
    this.client.on("request", (_accept, reject, name, info) => {
      if (name === "tcpip-forward") {
        const bind = info as { bindAddr: string; bindPort: number };
        void this.refuseUnsupported(
          "ssh:port_forward",
          `remote ${bind.bindAddr}:${bind.bindPort}`,
          "remote port forwarding",
          reject,
        );
      } else reject?.();
    });
    this.client.on("close", () => this.close("client disconnected"));
  }

  /** Ends the session from the gateway side (token expiry, shutdown, kill): each channel is told why. */
  terminate(error: LatchError, reason: string = error.message): void {
    for (const front of this.fronts) {
      try {
        front.stderr.write(sshErrorLine(error, "\r\n"));
        front.exit(sshExitStatusOf(error));
        front.end();
      } catch {
        // The channel is already closing: the connection's end below still tells the client.
      }
    }
    for (const up of this.ups) hangUp(up);
    setTimeout(() => this.client.end(), 50).unref();
    this.close(reason);
  }

  private close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const up of this.ups) hangUp(up);
    this.options.onClose(reason);
  }

  private onSession(session: Session | undefined): void {
    if (session === undefined) return;
    const state: ChannelState = { env: {}, queue: Promise.resolve() };
    const number = ++this.channelNumber;
    const later = (step: () => Promise<void>) => {
      state.queue = state.queue
        .then(step)
        .catch((error) => this.options.log.error({ err: error }, "ssh request failed"));
    };
    session.on("pty", (accept, _reject, info) => {
      state.pty = info;
      accept?.();
    });
    session.on("window-change", (accept, _reject, info) => {
      accept?.();
      if (state.pty !== undefined) state.pty = { ...state.pty, ...info };
      state.up?.setWindow(info.rows, info.cols, info.height, info.width);
      state.recorder?.resize(info.cols, info.rows);
    });
    session.on("signal", (accept, _reject, info) => {
      accept?.();
      try {
        state.up?.signal(info.name);
      } catch {
        // A signal name SSH does not define: nothing to pass on.
      }
    });
    session.on("env", (accept, reject, info) =>
      later(() => this.decideEnv(state, info.key, info.val, accept, reject)),
    );
    session.on("auth-agent", (_accept, reject) =>
      later(() => this.refuseUnsupported("ssh:agent_forward", "", "agent forwarding", reject)),
    );
    // exec, shell and subsystem are accepted at once and decided in order after that: ssh2 drops a client EOF
    // that comes before the channel exists (`ssh -n`, `< /dev/null` send it right behind the exec request) and
    // then refuses the late accept, so the client would wait forever.
    session.on("exec", (accept, _reject, info) => {
      const front = this.acceptChannel(accept);
      later(() => this.runChannel(front, state, number, "ssh:exec", info.command, "exec"));
    });
    session.on("shell", (accept) => {
      const front = this.acceptChannel(accept);
      later(() => this.runChannel(front, state, number, "ssh:shell", "", "shell"));
    });
    session.on("subsystem", (accept, _reject, info) => {
      const front = this.acceptChannel(accept);
      const verb = info.name === "sftp" ? "ssh:sftp" : "ssh:subsystem";
      later(() => this.runChannel(front, state, number, verb, info.name, "subsystem"));
    });
  }

  private acceptChannel(accept: () => ServerChannel | undefined): ServerChannel | undefined {
    const front = accept();
    if (front === undefined) return undefined;
    this.fronts.add(front);
    front.on("close", () => this.fronts.delete(front));
    return front;
  }

  private async admit(
    operation: Operation,
    options: { onHeld?: (hold: ApprovalHold) => void; signal?: AbortSignal } = {},
  ): Promise<Admission> {
    const session = this.options.session;
    const admission = await this.options.pipeline.admit(
      operation,
      { clientAddress: session.clientAddress, connectionLabels: session.connectionLabels },
      {
        signal: options.signal ?? session.signal,
        ...(options.onHeld === undefined ? {} : { onHeld: options.onHeld }),
      },
    );
    if (admission.allowed) {
      if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
      session.remember(operation.steps);
    }
    return admission;
  }

  private operation(verb: SshVerb, text: string, mode: string): Operation {
    const { id, connection, identity } = this.options.session;
    return sshOperation({ sessionId: id, connection, identity }, verb, text, mode);
  }

  private async decideEnv(
    state: ChannelState,
    name: string,
    value: string,
    accept: (() => void) | undefined,
    reject: (() => void) | undefined,
  ): Promise<void> {
    const admission = await this.admit(this.operation("ssh:env", `${name}=${value}`.slice(0, 4096), "env"));
    if (!admission.allowed) return reject?.();
    state.env[name] = value;
    accept?.();
  }

  /** Agent and remote forwarding are judged by policy but never carried: the target would get a key or a port Latch cannot see. */
  private async refuseUnsupported(
    verb: SshVerb,
    text: string,
    what: string,
    reject: (() => void) | undefined,
  ): Promise<void> {
    const operation = this.operation(verb, text, what.replace(/ /g, "_"));
    const admission = await this.admit(operation);
    reject?.();
    if (admission.allowed) {
      const error = new LatchError("feature_refused", {
        feature: what,
        why: "Latch does not carry it to the target",
      });
      this.options.pipeline.complete(operation, {
        durationMs: 0,
        rows: 0,
        commandTags: [],
        error: { code: error.code, message: error.message },
      });
    }
  }

  private async runChannel(
    front: ServerChannel | undefined,
    state: ChannelState,
    number: number,
    verb: SshVerb,
    text: string,
    mode: string,
  ): Promise<void> {
    if (front === undefined) return;
    const newline = state.pty === undefined ? "\n" : "\r\n";
    const operation = this.operation(verb, text, mode);
    const started = performance.now();
    let recorder: AsciicastRecorder | undefined;
    let up: ClientChannel | undefined;
    const failClosed = (error: unknown) => {
      this.options.log.error({ err: error, operationId: operation.id }, "recording failed; channel stopped");
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
      this.options.pipeline.complete(operation, {
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
          write: this.options.recordChunk,
          onFailure: failClosed,
          ...(this.options.maskOutput === undefined ? {} : { maskOutput: this.options.maskOutput }),
        });
        state.recorder = recorder;
        await recorder.ready;
      } catch (error) {
        // No recording, no command.
        this.options.log.error({ err: error }, "recording could not start");
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
      this.options.pipeline.recordRefusal(operation, error);
      say(error.message);
      return finish(DENIED_EXIT_STATUS, { error: { code: error.code, message: error.message } });
    }

    // A held command is abandoned when its channel or the whole session goes away: it must never run later.
    const channelGone = new AbortController();
    const abandon = () => channelGone.abort();
    front.once("close", abandon);
    this.options.session.signal.addEventListener("abort", abandon, { once: true });
    const admission = await this.admit(operation, {
      signal: channelGone.signal,
      onHeld: (hold) =>
        say(
          `waiting for approval by ${hold.approval.quorum === 1 ? "one member" : `${hold.approval.quorum} members`} of group "${hold.approval.group}" (request ${hold.requestId}; approve with: latch requests approve ${hold.requestId}) ...`,
        ),
    });
    front.removeListener("close", abandon);
    this.options.session.signal.removeEventListener("abort", abandon);
    if (!this.fronts.has(front)) {
      recorder?.close();
      if (admission.allowed) {
        this.options.pipeline.complete(operation, {
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
      up = await openUpstreamChannel(await this.options.upstream(), verb, text, state);
    } catch (error) {
      const latchError =
        error instanceof LatchError
          ? error
          : new LatchError("upstream_unavailable", {
              name: this.options.session.connection,
              reason: (error as Error).message ?? "channel refused",
            });
      say(latchError.message);
      return finish(UPSTREAM_FAILED_EXIT_STATUS, {
        error: { code: latchError.code, message: latchError.message },
      });
    }
    const upChannel = up;
    state.up = upChannel;
    this.ups.add(upChannel);
    upChannel.on("close", () => this.ups.delete(upChannel));
    const session = this.options.session;
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
    this.options.pipeline.complete(operation, {
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

  private async onDirectTcpip(
    accept: () => ServerChannel | undefined,
    reject: () => void,
    destination: string,
    info: { srcIP: string; srcPort: number; destIP: string; destPort: number },
  ): Promise<void> {
    const operation = this.operation("ssh:port_forward", destination, "direct-tcpip");
    const started = performance.now();
    const admission = await this.admit(operation);
    if (!admission.allowed || this.closed) return reject();
    let target: Client;
    try {
      target = await this.options.upstream();
    } catch {
      return reject();
    }
    target.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (error, up) => {
      const done = (result: Partial<OperationResult>) =>
        this.options.pipeline.complete(operation, {
          durationMs: performance.now() - started,
          rows: 0,
          commandTags: ["forward"],
          ...result,
        });
      if (error !== undefined && error !== null) {
        reject();
        return done({
          error: {
            code: "upstream_unavailable",
            message: `the target refused the forward: ${error.message}`,
          },
        });
      }
      const front = accept();
      if (front === undefined) return up.close();
      this.ups.add(up);
      front.pipe(up).pipe(front);
      front.on("close", () => up.close());
      up.on("close", () => {
        this.ups.delete(up);
        front.close();
        done({});
      });
    });
  }
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
