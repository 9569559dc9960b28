/** `spool/tracing`: the OpenTelemetry helpers the library uses around publish and handle (docs/operations.md). */
export {
  hasActiveSpan,
  injectTraceContext,
  withHandleSpan,
  withPublishSpan,
  type PublishSpanOptions,
  type TracedMessage,
} from "../observability/tracing.js";
