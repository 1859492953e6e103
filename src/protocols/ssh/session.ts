import type { ClientChannel, Connection, ServerChannel, Session } from "ssh2";
import { LatchError } from "../../errors.js";
import type { Operation } from "../../operation/operation.js";
import type { Admission, ApprovalHold } from "../../pipeline/pipeline-types.js";
import { hangUp } from "./channel-relay.js";
import { runChannel } from "./channel-run.js";
import { forwardDirectTcpip } from "./direct-tcpip.js";
import { sshErrorLine, sshExitStatusOf } from "./errors.js";
import type { ChannelState, SshSessionContext, SshSessionOptions } from "./session-context.js";
import { type SshVerb, sshOperation } from "./ssh-operation.js";

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
  /** This session as its channels' handlers see it. */
  private readonly context: SshSessionContext;

  constructor(
    private readonly client: Connection,
    private readonly options: SshSessionOptions,
  ) {
    this.context = {
      options,
      isClosed: () => this.closed,
      admit: (operation, admitOptions) => this.admit(operation, admitOptions),
      operation: (verb, text, mode) => this.operation(verb, text, mode),
      isOpen: (front) => this.fronts.has(front),
      trackUpstream: (up) => {
        this.ups.add(up);
        up.on("close", () => this.ups.delete(up));
      },
    };
  }

  start(): void {
    this.client.on("session", (accept) => this.onSession(accept()));
    this.client.on("tcpip", (accept, reject, info) => {
      void forwardDirectTcpip(this.context, accept, reject, `${info.destIP}:${info.destPort}`, info);
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
      later(() => runChannel(this.context, front, state, number, "ssh:exec", info.command, "exec"));
    });
    session.on("shell", (accept) => {
      const front = this.acceptChannel(accept);
      later(() => runChannel(this.context, front, state, number, "ssh:shell", "", "shell"));
    });
    session.on("subsystem", (accept, _reject, info) => {
      const front = this.acceptChannel(accept);
      const verb = info.name === "sftp" ? "ssh:sftp" : "ssh:subsystem";
      later(() => runChannel(this.context, front, state, number, verb, info.name, "subsystem"));
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
}
