/** The workloads, in the order they run for each system (rss last: its peak covers the others). */
import { endToEnd } from "./end-to-end.js";
import { latency } from "./latency.js";
import { publishMany } from "./publish-many.js";
import { rss } from "./rss.js";
import type { Scenario } from "./scenario.js";

export const scenarios: Scenario[] = [publishMany, endToEnd, latency, rss];
