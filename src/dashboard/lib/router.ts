/**
 * Hash routes (`#/queues/emails`): the server serves one page at `/`, and links, reloads and the
 * back button all work without it knowing the dashboard's paths.
 */
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** Path segments, decoded: `#/queues/a.b` → ["queues", "a.b"]. */
  parts: string[];
  query: URLSearchParams;
}

function current(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = hash.split("?");
  return { parts: path.split("/").filter((part) => part !== "").map(decodeURIComponent), query: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const onChange = () => setRoute(current());
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

/** `href("queues", name)` → `#/queues/<name>`, with an optional query. */
export function href(...parts: Array<string | Record<string, string | undefined>>): string {
  const last = parts[parts.length - 1];
  const query = typeof last === "object" ? last : undefined;
  const path = parts.filter((part): part is string => typeof part === "string").map(encodeURIComponent).join("/");
  const search = query ? new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")).toString() : "";
  return `#/${path}${search ? `?${search}` : ""}`;
}
