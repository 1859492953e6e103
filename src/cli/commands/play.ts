import type { Command } from "commander";
import type {
  AsciicastEvent,
  AsciicastHeader,
  RecordingChunk,
} from "../../protocols/ssh/asciicast-recorder.js";
import { RECORDING_EVENT_KIND } from "../../protocols/ssh/asciicast-recorder.js";
import type { AuditEvent } from "../../store/store.js";
import { type AdminClientOptions, adminGet, withAdminOptions } from "../admin-client.js";

/** One channel's recording put back together from its audit chunks. */
export interface Recording {
  readonly recording: number;
  readonly header: AsciicastHeader;
  readonly events: readonly AsciicastEvent[];
  readonly truncated: boolean;
}

type PlayOptions = AdminClientOptions & {
  json?: boolean;
  speed: string;
  idleLimit: string;
  recording?: string;
};

const PAGE = 1000;

/** Adds `latch sessions play ID [--speed 2]` under the `sessions` command. */
export function registerPlayCommand(sessions: Command): void {
  withAdminOptions(
    sessions
      .command("play")
      .description("replay a recorded SSH session in this terminal with its original timing")
      .argument("<id>", "session id")
      .option("--speed <factor>", "playback speed, e.g. 2 for twice as fast", "1")
      .option("--idle-limit <seconds>", "longest pause replayed", "2")
      .option("--recording <n>", "only this channel of the session"),
  ).action(async (id: string, options: PlayOptions) => {
    const speed = Number(options.speed);
    const idleLimit = Number(options.idleLimit);
    if (!(speed > 0) || !(idleLimit >= 0)) throw new Error("--speed must be > 0 and --idle-limit >= 0");
    const recordings = assembleRecordings(await fetchSessionEvents(options, id)).filter(
      (recording) => options.recording === undefined || String(recording.recording) === options.recording,
    );
    if (recordings.length === 0)
      throw new Error(`session ${id} has no recording (only SSH exec and shell channels are recorded)`);
    // --json prints asciicast v2 files (one per recording) for asciinema and other players.
    if (options.json) {
      for (const recording of recordings) process.stdout.write(toCastFile(recording));
      return;
    }
    for (const recording of recordings) {
      const what = recording.header.command === undefined ? "shell" : `exec: ${recording.header.command}`;
      process.stderr.write(`--- recording ${recording.recording} (${what}) ---\n`);
      await playRecording(recording, { speed, idleLimit, write: (text) => process.stdout.write(text) });
      if (recording.truncated) process.stderr.write("--- recording truncated at the size limit ---\n");
    }
  });
}

/** Every event of the session, page by page (a long session has more than one page). */
async function fetchSessionEvents(options: AdminClientOptions, id: string): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  let after = 0;
  for (;;) {
    const query = new URLSearchParams({ session: id, after: String(after), limit: String(PAGE) });
    const { events } = await adminGet<{ events: AuditEvent[] }>(options, `/api/audit?${query}`);
    all.push(...events);
    if (events.length < PAGE) return all;
    after = events[events.length - 1]?.seq ?? after;
  }
}

/** Groups recording chunks by channel, in chunk order; chunks of other kinds are ignored. */
export function assembleRecordings(events: readonly AuditEvent[]): Recording[] {
  const byRecording = new Map<number, RecordingChunk[]>();
  for (const event of events) {
    if ((event.kind as string) !== RECORDING_EVENT_KIND) continue;
    const chunk = event.data as unknown as RecordingChunk;
    const list = byRecording.get(chunk.recording) ?? [];
    list.push(chunk);
    byRecording.set(chunk.recording, list);
  }
  const recordings: Recording[] = [];
  for (const [recording, chunks] of [...byRecording].sort(([a], [b]) => a - b)) {
    chunks.sort((a, b) => a.chunk - b.chunk);
    const header = chunks[0]?.header;
    if (header === undefined) continue; // header chunk lost: nothing trustworthy to replay
    recordings.push({
      recording,
      header,
      events: chunks.flatMap((chunk) => chunk.events),
      truncated: chunks.some((chunk) => chunk.truncated === true),
    });
  }
  return recordings;
}

/** asciicast v2 file text: header line, then one JSON array per event. */
export function toCastFile(recording: Recording): string {
  return (
    [JSON.stringify(recording.header), ...recording.events.map((event) => JSON.stringify(event))].join("\n") +
    "\n"
  );
}

/** Writes the output events with their recorded timing, divided by `speed`, pauses capped at `idleLimit`. */
export async function playRecording(
  recording: Recording,
  options: {
    speed: number;
    idleLimit: number;
    write: (text: string) => void;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<void> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  let previous = 0;
  for (const [time, code, data] of recording.events) {
    const pause = Math.min(Math.max(time - previous, 0), options.idleLimit) / options.speed;
    previous = time;
    if (pause > 0) await sleep(pause * 1000);
    // Input is echoed by the remote terminal when it should be seen; replaying it would show it twice.
    if (code === "o") options.write(data);
  }
}
