/** Every conformance area, one file each. Add a new area here. */
import { delays } from "./areas/delays.js";
import { priorities } from "./areas/priorities.js";
import { publishing } from "./areas/publishing.js";
import { ttl } from "./areas/ttl.js";
import { dedupIdempotency } from "./areas/dedup-idempotency.js";
import { groups } from "./areas/groups.js";
import { rateLimits } from "./areas/rate-limits.js";
import { backpressure } from "./areas/backpressure.js";
import { queueAdmin } from "./areas/queue-admin.js";
import { routing } from "./areas/routing.js";
import { leasing } from "./areas/leasing.js";
import { leaseExpiry } from "./areas/lease-expiry.js";
import { retries } from "./areas/retries.js";
import { deadLetters } from "./areas/dead-letters.js";
import { workers } from "./areas/workers.js";
import { modelBased } from "./areas/model-based.js";
import { capabilities } from "./areas/capabilities.js";
import { schedules } from "./areas/schedules.js";
import { story } from "./areas/story.js";
import { deadLetterRouting } from "./areas/dead-letter-routing.js";
import { events } from "./areas/events.js";
import { browse } from "./areas/browse.js";
import type { AreaDefinition } from "./suite.js";

export const areas: Record<string, AreaDefinition> = {
  publishing,
  priorities,
  delays,
  ttl,
  "dedup-idempotency": dedupIdempotency,
  groups,
  "rate-limits": rateLimits,
  backpressure,
  "queue-admin": queueAdmin,
  routing,
  leasing,
  "lease-expiry": leaseExpiry,
  retries,
  "dead-letters": deadLetters,
  workers,
  story,
  "dead-letter-routing": deadLetterRouting,
  events,
  browse,
  "model-based": modelBased,
  capabilities,
  schedules,
};
