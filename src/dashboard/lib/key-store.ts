/**
 * The API key, typed once per browser tab: kept in sessionStorage (gone when the tab closes),
 * never in localStorage, a cookie or a URL, so it is neither left behind on the machine nor
 * written into history, logs or a Referer.
 */
const KEY_NAME = "spool.apiKey";

export function storedKey(): string | undefined {
  return sessionStorage.getItem(KEY_NAME) ?? undefined;
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_NAME, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_NAME);
}
