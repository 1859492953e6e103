import * as AsciinemaPlayer from "asciinema-player";
import "asciinema-player/dist/bundle/asciinema-player.css";
import type { AuditEvent } from "./types.js";

interface Chunk {
  recording: number;
  chunk: number;
  header?: { width: number; height: number; timestamp: number; command?: string };
  events: [number, string, string][];
  truncated?: true;
}

export interface Recording {
  recording: number;
  header: { width: number; height: number; timestamp: number; command?: string };
  events: [number, string, string][];
  truncated: boolean;
}

/** An SSH session's channels put back together from their audit chunks (kind session_recording). */
export function assembleRecordings(events: readonly AuditEvent[]): Recording[] {
  const byChannel = new Map<number, Chunk[]>();
  for (const event of events) {
    if (event.kind !== "session_recording") continue;
    const chunk = event.data as unknown as Chunk;
    byChannel.set(chunk.recording, [...(byChannel.get(chunk.recording) ?? []), chunk]);
  }
  return [...byChannel.entries()].flatMap(([recording, chunks]) => {
    chunks.sort((a, b) => a.chunk - b.chunk);
    const header = chunks[0]?.header;
    if (header === undefined) return [];
    return [
      {
        recording,
        header,
        events: chunks.flatMap((chunk) => chunk.events),
        truncated: chunks.some((chunk) => chunk.truncated),
      },
    ];
  });
}

/** Plays one recording in `element` (asciinema-player; the data is handed over, nothing is fetched). */
export function play(element: HTMLElement, recording: Recording): { dispose(): void } {
  const cast = [
    JSON.stringify({ version: 2, ...recording.header }),
    ...recording.events.map((event) => JSON.stringify(event)),
  ].join("\n");
  return AsciinemaPlayer.create({ data: cast }, element, {
    fit: "width",
    idleTimeLimit: 2,
    controls: true,
    terminalFontSize: "small",
  });
}
