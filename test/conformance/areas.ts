/** Every conformance area, one file each. Add a new area here. */
import type { AreaDefinition } from "./suite.js";

export const areas: Record<string, AreaDefinition> = {};
