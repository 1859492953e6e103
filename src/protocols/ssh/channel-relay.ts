import { Transform } from "node:stream";
import type { ClientChannel, ServerChannel } from "ssh2";

/** How a relayed channel ended: the remote exit status or signal, and whether the client left first. */
export interface RelayOutcome {
  readonly code?: number;
  /** Signal name as ssh2 reports it ("SIGTERM"). */
  readonly signal?: string;
  readonly clientGone: boolean;
}

/** A tap may return a promise to hold the stream (recording backlog): backpressure reaches the SSH window. */
export interface RelayTaps {
  output?(chunk: Buffer, stream: "stdout" | "stderr"): Promise<void> | undefined;
  input?(chunk: Buffer): Promise<void> | undefined;
}

/**
 * Joins the client's channel to the target's with stream pipes, so each side is read only as fast as the other
 * side's SSH window lets it be written (no unbounded buffering, whatever the output size). Taps see every
 * chunk on its way for the recording. The exit status or signal is passed on only after every output byte,
 * and a client that goes away mid-command sends TERM to the remote process and closes its channel.
 */
export function relayChannel(
  front: ServerChannel,
  up: ClientChannel,
  taps: RelayTaps,
): Promise<RelayOutcome> {
  return new Promise((settle) => {
    let settled = false;
    const resolve = (outcome: RelayOutcome) => {
      if (settled) return;
      settled = true;
      settle(outcome);
    };
    const early = captured.get(up);
    let exit: ExitInfo = early?.exit ?? {};
    let upClosed = early?.closed ?? false;
    let outputsEnded = 0;
    let done = false;
    const stdout = tap((chunk) => taps.output?.(chunk, "stdout"));
    const stderr = tap((chunk) => taps.output?.(chunk, "stderr"));
    const stdin = tap((chunk) => taps.input?.(chunk));
    up.pipe(stdout).pipe(front, { end: false });
    up.stderr.pipe(stderr).pipe(front.stderr, { end: false });
    // The client's EOF becomes the target's EOF: `echo x | ssh host cat` ends. Input and an EOF that came while
    // the command waited for policy and the target are buffered in `front` and flow now, in order; a `front` that
    // already emitted 'end' is ended into `stdin` by pipe() itself. Either way `up` is ended once, by this pipe.
    front.pipe(stdin).pipe(up);

    const finish = () => {
      if (done || !upClosed || outputsEnded < 2) return;
      done = true;
      afterWrites(front, () => {
        try {
          if (exit.code !== undefined) front.exit(exit.code);
          else if (exit.signal !== undefined)
            front.exit(exit.signal, exit.dump ?? false, exit.description ?? "");
        } catch {
          // An exotic signal name ssh2 cannot encode: the client still gets the end of the channel.
        }
        front.end();
        resolve({ ...pick(exit), clientGone: false });
      });
    };
    up.on("exit", (code: number | null, signal?: string, dump?: boolean, description?: string) => {
      exit = code !== null && code !== undefined ? { code } : { signal, dump, description };
    });
    up.on("close", () => {
      upClosed = true;
      // A target that closes without EOF still ends the output taps.
      if (!up.readableEnded) up.push(null);
      finish();
    });
    stdout.on("end", () => {
      outputsEnded += 1;
      finish();
    });
    stderr.on("end", () => {
      outputsEnded += 1;
      finish();
    });
    front.on("close", () => {
      // Closed while the last bytes were still going out: the command had already ended.
      if (done) return resolve({ ...pick(exit), clientGone: false });
      done = true;
      hangUp(up);
      resolve({ ...pick(exit), clientGone: true });
    });
  });
}

/** The remote process must not outlive its caller: TERM first (sshd delivers it), then close the channel. */
export function hangUp(up: ClientChannel): void {
  try {
    up.signal("TERM");
  } catch {
    // Channel already closing.
  }
  up.close();
}

interface ExitInfo {
  code?: number;
  signal?: string;
  dump?: boolean;
  description?: string;
}

const captured = new WeakMap<ClientChannel, { exit: ExitInfo | undefined; closed: boolean }>();

/** Starts listening for the channel's exit status and close as soon as it exists (see relayChannel). */
export function captureChannelEnd(up: ClientChannel): void {
  const state: { exit: ExitInfo | undefined; closed: boolean } = { exit: undefined, closed: false };
  captured.set(up, state);
  up.on("exit", (code: number | null, signal?: string, dump?: boolean, description?: string) => {
    state.exit = code !== null && code !== undefined ? { code } : { signal, dump, description };
  });
  up.once("close", () => {
    state.closed = true;
  });
}

function tap(onChunk: (chunk: Buffer) => Promise<void> | undefined): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const wait = onChunk(chunk);
      if (wait === undefined) callback(null, chunk);
      else wait.then(() => callback(null, chunk));
    },
  });
}

/** Runs `then` once everything already written to the channel (stdout and stderr) has gone out. */
function afterWrites(front: ServerChannel, then: () => void): void {
  let pending = 2;
  const one = () => {
    pending -= 1;
    if (pending === 0) then();
  };
  // Writable callbacks run in order, so an empty write's callback fires after all earlier chunks.
  front.write(Buffer.alloc(0), one);
  front.stderr.write(Buffer.alloc(0), one);
}

function pick(exit: { code?: number; signal?: string }): { code?: number; signal?: string } {
  return {
    ...(exit.code === undefined ? {} : { code: exit.code }),
    ...(exit.signal === undefined ? {} : { signal: exit.signal }),
  };
}
