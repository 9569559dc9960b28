/** How numbers and times read on the page: grouped digits, relative times with the absolute beside. */
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const rate = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
// "long" adds the zone ("GMT+9", "UTC"): the browser's, which the server's logs need not share.
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "long" });

export const count = (n: number | undefined) => (n === undefined ? "–" : whole.format(n));
export const perSec = (n: number) => `${rate.format(n)}/s`;
export const absoluteTime = (ms: number) => absolute.format(new Date(ms));

/** `4 s`, `3 min`, `2 h 5 min`, `3 d`: a duration for people. */
export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

/** `5 s ago` or `in 3 min`, relative to `now`. */
export function relative(ms: number, now: number): string {
  const delta = ms - now;
  if (Math.abs(delta) < 1000) return "now";
  return delta < 0 ? `${duration(delta)} ago` : `in ${duration(delta)}`;
}

export const json = (value: unknown) => JSON.stringify(value, null, 2);

/** A message body as the API answers it (any JSON value), indented. */
export const prettyBody = (body: unknown) => json(body) ?? "undefined";
