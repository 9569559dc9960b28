/** The message every workload sends: a JSON object whose encoding is exactly BODY_BYTES long. */
export const BODY_BYTES = 120;

export interface BenchBody {
  /** Index within its run: the latency workload maps it back to the send time. */
  seq: number;
  to: string;
  subject: string;
  pad: string;
}

const TO = "user-4711@example.test";
const SUBJECT = "Your order has shipped";
// The encoding without `pad` content and without the digits of `seq`.
const FIXED = JSON.stringify({ seq: "", to: TO, subject: SUBJECT, pad: "" }).length - 2;

// "x".repeat() builds a rope (a V8 cons string); a body decoded from the wire holds flat
// strings, so the pads are made flat once per length and shared.
const PADS = new Map<number, string>();
function pad(length: number): string {
  let text = PADS.get(length);
  if (text === undefined) PADS.set(length, (text = Buffer.from("x".repeat(length)).toString("latin1")));
  return text;
}

export function makeBody(seq: number): BenchBody {
  return { seq, to: TO, subject: SUBJECT, pad: pad(Math.max(0, BODY_BYTES - FIXED - String(seq).length)) };
}

export function makeBodies(count: number, from = 0): BenchBody[] {
  const bodies = new Array<BenchBody>(count);
  for (let i = 0; i < count; i++) bodies[i] = makeBody(from + i);
  return bodies;
}
