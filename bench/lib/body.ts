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

export function makeBody(seq: number): BenchBody {
  const padLength = BODY_BYTES - FIXED - String(seq).length;
  return { seq, to: TO, subject: SUBJECT, pad: "x".repeat(Math.max(0, padLength)) };
}

export function makeBodies(count: number, from = 0): BenchBody[] {
  const bodies = new Array<BenchBody>(count);
  for (let i = 0; i < count; i++) bodies[i] = makeBody(from + i);
  return bodies;
}
