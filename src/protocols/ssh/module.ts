import type { ConnectionConfig, LatchConfig } from "../../config/schema.js";
import type { LatchError } from "../../errors.js";
import { createRecordingMasker } from "../../masking/text-masker.js";
import type { ProtocolContext, ProtocolListener, ProtocolModule } from "../protocol-module.js";
import { probeTcp, upstreamEndpoint } from "../tcp-probe.js";
import { sshErrorLine } from "./errors.js";
import { startSshListener } from "./front.js";
import { createSshToolRunner } from "./tool-runner.js";

/** SSH: token login, the SSH user name names the connection, every request an ssh:* operation. */
export const sshModule: ProtocolModule = {
  name: "ssh",
  connectionType: "ssh",
  listenAddress: (config: LatchConfig) => config.listen.ssh,
  renderError: (error: LatchError) => Buffer.from(sshErrorLine(error, "\r\n")),
  start,
  probe,
  agentTools: (context) => {
    const ssh = createSshToolRunner(context);
    return ssh === undefined ? {} : { ssh };
  },
};

/**
 * Ready when the upstream sends an SSH-2.0 identification line (RFC 4253 4.2; lines before it are allowed),
 * read before any key exchange, so no key is used.
 */
function probe(connection: ConnectionConfig, timeoutMs: number): Promise<void> {
  const { host, port } = upstreamEndpoint(connection.upstream, 22);
  return probeTcp({
    host,
    port,
    timeoutMs,
    judge: (received) => {
      const lines = received.toString("latin1").split("\n");
      for (const line of lines.slice(0, -1)) {
        if (line.startsWith("SSH-2.0-") || line.startsWith("SSH-1.99-")) return "ok";
        if (line.startsWith("SSH-")) return "unexpected";
      }
      return "more";
    },
  });
}

async function start(context: ProtocolContext): Promise<ProtocolListener> {
  const { config } = context;
  const recordingMaskers = new Map<string, (text: string) => string>();
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.type !== "ssh") continue;
    const mask = createRecordingMasker(connection.masking, config.masking);
    if (mask !== undefined) recordingMaskers.set(name, mask);
  }
  const listener = await startSshListener({
    config,
    gate: context.gate,
    pipeline: context.pipeline,
    metrics: context.metrics,
    log: context.log,
    maskOutput: (name) => recordingMaskers.get(name),
  });
  return {
    address: listener.address,
    details: { sshHostKey: listener.hostKey.fingerprint },
    stopAccepting: () => listener.stopAccepting(),
    close: () => listener.close(),
  };
}
