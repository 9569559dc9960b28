import { defineStoreSuite } from "../conformance/define-store-suite.js";
import { memorySuite } from "./stores.js";

defineStoreSuite(memorySuite);
