/** Error and URL text for the report. */

/** An error's message on one line, cut to `max` characters. */
export function shortReason(error: unknown, max = 60): string {
  const text = describeError(error).replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The most useful description of an error: for AggregateErrors (e.g. ECONNREFUSED on ::1 and 127.0.0.1), the first inner one. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    const inner = error.errors[0] as unknown;
    return error.message ? `${error.message}: ${describeError(inner)}` : describeError(inner);
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message || String(code ?? error.name);
    return typeof code === "string" && !message.includes(code) ? `${code} ${message}` : message;
  }
  return String(error);
}

/** The URL with its password replaced by ***, fit to print. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
