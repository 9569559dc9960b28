/**
 * The dashboard's only way to the server: the public /v1 API with the tab's key in
 * `Authorization: Bearer`, as any client. Failures become an `ApiError` that says whether the
 * server could not be reached, refused the key, or answered with the API's error envelope.
 */
import { storedKey } from "./key-store.js";

export type ApiErrorKind = "unreachable" | "unauthorized" | "forbidden" | "http";

export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  readonly status: number;
  /** The envelope's `error.code` (`not_found`, `unavailable`, …), when the server sent one. */
  readonly code: string | undefined;

  constructor(kind: ApiErrorKind, status: number, message: string, code?: string) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.code = code;
  }
}

/** Listeners told when the server refuses the tab's key (401): the app asks for another. */
const refusedListeners = new Set<(error: ApiError) => void>();
export function onKeyRefused(listener: (error: ApiError) => void): () => void {
  refusedListeners.add(listener);
  return () => refusedListeners.delete(listener);
}

/** Tells the listeners; every request that carries the key, event streams too, reports a 401 here. */
export function reportRefused(error: ApiError): void {
  for (const listener of [...refusedListeners]) listener(error);
}

export function authHeaders(): Record<string, string> {
  const key = storedKey();
  return key === undefined ? {} : { authorization: `Bearer ${key}` };
}

/** The error a non-2xx answer stands for, read from the API's envelope. */
export async function errorOf(response: Response): Promise<ApiError> {
  let code: string | undefined;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // Not the envelope (a proxy's page): the status line says enough.
  }
  const kind: ApiErrorKind = response.status === 401 ? "unauthorized" : response.status === 403 ? "forbidden" : "http";
  return new ApiError(kind, response.status, message, code);
}

export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(), accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError("unreachable", 0, "The Spool server does not answer: it may be down or restarting.");
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (error.kind === "unauthorized") reportRefused(error);
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>("GET", path, undefined, signal);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body);
export const del = <T>(path: string) => api<T>("DELETE", path);

/** A path segment: queue names may hold dots, slashes are refused by the API anyway. */
export const seg = (value: string) => encodeURIComponent(value);
