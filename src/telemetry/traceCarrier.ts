import type { TraceCarrier } from "../events/taskEvents.ts";

/** @internal A span context as W3C Trace Context reads it. */
export interface SpanContextFields {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  /** The serialized `tracestate`, if any. */
  readonly traceState?: string | undefined;
}

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const allZero = /^0+$/;

/**
 * @internal The W3C `traceparent` (version 00) and `tracestate` of a span
 * context, as stored with a task. Written by underway itself rather than
 * through the globally registered propagator: the column holds W3C trace
 * context whatever propagators the application uses.
 */
export const toCarrier = (context: SpanContextFields): TraceCarrier => {
  const flags = (context.traceFlags & 0xff).toString(16).padStart(2, "0");
  const traceparent = `00-${context.traceId}-${context.spanId}-${flags}`;
  return context.traceState === undefined || context.traceState === ""
    ? { traceparent }
    : { traceparent, tracestate: context.traceState };
};

/** @internal The span context a stored carrier names, or undefined when it is missing or malformed. */
export const fromCarrier = (carrier: unknown): SpanContextFields | undefined => {
  if (typeof carrier !== "object" || carrier === null) return undefined;
  const { traceparent, tracestate } = carrier as {
    readonly traceparent?: unknown;
    readonly tracestate?: unknown;
  };
  if (typeof traceparent !== "string") return undefined;
  const match = traceparentPattern.exec(traceparent);
  if (match === null) return undefined;
  const [, traceId = "", spanId = "", flags = "00"] = match;
  if (allZero.test(traceId) || allZero.test(spanId)) return undefined;
  return {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    traceState: typeof tracestate === "string" ? tracestate : undefined,
  };
};
