/** What the tab's key may do, from `GET /v1/whoami`: the page hides the buttons it may not use. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { WhoAmI } from "./types.js";

export interface Abilities {
  /** Pause, resume, purge, dead letters: the `admin` scope. */
  admin: boolean;
  /** Publishing a test message: `publish` (or `admin`). */
  publish: boolean;
}

export function abilitiesOf(who: WhoAmI): Abilities {
  if (!who.auth) return { admin: true, publish: true };
  const admin = who.scopes.includes("admin");
  return { admin, publish: admin || who.scopes.includes("publish") };
}

export const IdentityContext = createContext<{ who: WhoAmI; can: Abilities }>({ who: { auth: false }, can: { admin: true, publish: true } });

export const useIdentity = () => useContext(IdentityContext);
