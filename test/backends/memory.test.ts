import { memoryStore } from "../../src/index.js";
import { defineStoreSuite } from "../conformance/define-store-suite.js";

defineStoreSuite({
  name: "memory",
  createStore: (clock, random) => memoryStore({ clock, random }),
  supports: { transactionalPublish: false, manualClock: true, snapshots: false },
});
