/**
 * The workloads, in the order they run for each system: rss after the in-process ones, so its
 * peak covers them; http after rss, so its client load is not charged to the system's peak.
 */
import { backlog } from "./backlog.js";
import { batch } from "./batch.js";
import { endToEnd } from "./end-to-end.js";
import { http } from "./http.js";
import { latency } from "./latency.js";
import { processes } from "./processes.js";
import { publishMany } from "./publish-many.js";
import { rss } from "./rss.js";
import type { Scenario } from "./scenario.js";

export const scenarios: Scenario[] = [publishMany, endToEnd, latency, backlog, processes, rss, http, batch];
