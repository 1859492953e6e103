import type { Logger } from "pino";
import type { Client, ClientChannel, PseudoTtyInfo, ServerChannel } from "ssh2";
import type { Operation } from "../../operation/operation.js";
import type { Admission, Admitter, ApprovalHold } from "../../pipeline/pipeline-types.js";
import type { SessionHandle } from "../../session/session-handle.js";
import type { AsciicastRecorder, RecordingChunk } from "./asciicast-recorder.js";
import type { SshVerb } from "./ssh-operation.js";

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
export interface ChannelState {
  pty?: PseudoTtyInfo;
  readonly env: Record<string, string>;
  /** Pending env/agent decisions: exec and shell wait for them so they start with the env policy allowed. */
  queue: Promise<void>;
  up?: ClientChannel;
  recorder?: AsciicastRecorder;
}

/**
 * What the handler of one channel (exec/shell/subsystem, a direct-tcpip forward) needs from its SSH session:
 * admission through the pipeline, and the session's bookkeeping of open channels so that ending the session
 * reaches every one of them.
 */
export interface SshSessionContext {
  readonly options: SshSessionOptions;
  /** The session has ended: nothing new is opened. */
  isClosed(): boolean;
  admit(
    operation: Operation,
    options?: { onHeld?: (hold: ApprovalHold) => void; signal?: AbortSignal },
  ): Promise<Admission>;
  operation(verb: SshVerb, text: string, mode: string): Operation;
  /** The client's side of the channel is still open (the session forgets it when it closes). */
  isOpen(front: ServerChannel): boolean;
  /** Hung up when the session ends; forgotten once it closes. */
  trackUpstream(up: ClientChannel): void;
}
