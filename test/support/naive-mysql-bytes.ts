/** A deliberately naive MySQL packet builder, kept apart from the real writer: one packet per call. */
export function naivePacket(sequenceId: number, payload: number[] | Buffer): Buffer {
  const body = [...payload];
  return Buffer.from([
    body.length & 0xff,
    (body.length >> 8) & 0xff,
    (body.length >> 16) & 0xff,
    sequenceId & 0xff,
    ...body,
  ]);
}

/** A message split into 0xFFFFFF-byte packets the slow way (for small fragment sizes in tests, pass `max`). */
export function naiveMessage(sequenceId: number, payload: Buffer, max = 0xffffff): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  let seq = sequenceId;
  for (;;) {
    const piece = payload.subarray(at, at + max);
    const header = Buffer.alloc(4);
    header.writeUIntLE(piece.length === max ? 0xffffff : piece.length, 0, 3);
    header[3] = seq++ & 0xff;
    parts.push(header, piece);
    at += piece.length;
    if (piece.length < max) break;
  }
  return Buffer.concat(parts);
}
