/** `spool/metrics`: Prometheus metrics for a library Spool (docs/operations.md). Kept off `spool` so the library alone never loads prom-client. */
export { SpoolMetrics, type SpoolMetricsOptions, type MetricsSource, type ObservableWorker } from "../metrics/metrics.js";
