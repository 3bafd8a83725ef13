import { checkBatchId, checkJobId, checkTaskId } from "../identifier.ts";
import type { JsonValue } from "../json.ts";
import { taskStates, type TaskFilter, type TaskState } from "../ops/types.ts";
import { listOf, stringOf, UsageError, type OptionSpecs, type Parsed } from "./args.ts";

/** The task filter flags shared by `tasks list` and the bulk commands. */
export const filterOptions: OptionSpecs = {
  queue: {
    type: "string",
    multiple: true,
    value: "<name>",
    description: "in this queue (or comma-separated queues)",
  },
  state: {
    type: "string",
    multiple: true,
    value: "<state>",
    description: `in this state: ${taskStates.join(", ")} (or comma-separated)`,
  },
  id: { type: "string", multiple: true, value: "<id>", description: "this task id (or comma-separated ids)" },
  job: { type: "string", value: "<uuid>", description: "steps of this multi-step job" },
  batch: { type: "string", value: "<id>", description: "members of this batch (or fan-out)" },
  key: { type: "string", value: "<key>", description: "with this concurrency key" },
  error: {
    type: "string",
    value: "<text>",
    description: "the last error contains this text (ignoring case)",
  },
  input: {
    type: "string",
    value: "<json>",
    description: `the input contains this JSON, e.g. '{"userId":42}'`,
  },
  after: {
    type: "string",
    value: "<time>",
    description: "created at or after: ISO time, or an age (30m, 2h, 7d)",
  },
  before: {
    type: "string",
    value: "<time>",
    description: "created before: ISO time, or an age (30m, 2h, 7d)",
  },
};

const units: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** An ISO time, or an age such as `7d` meaning that long before `now`. */
export const timeOf = (flag: string, text: string, now: Date): Date => {
  const age = /^(\d+)([smhdw])$/.exec(text);
  if (age !== null) return new Date(now.getTime() - Number(age[1]) * (units[age[2] ?? "s"] ?? 1) * 1000);
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime()))
    throw new UsageError(
      `--${flag} needs an ISO time (2026-11-29T08:00:00Z) or an age (30m, 2h, 7d), got ${JSON.stringify(text)}`,
    );
  return date;
};

const statesOf = (parsed: Parsed): ReadonlyArray<TaskState> =>
  listOf(parsed, "state").map((state) => {
    if (!(taskStates as ReadonlyArray<string>).includes(state))
      throw new UsageError(`--state must be one of ${taskStates.join(", ")}, got ${JSON.stringify(state)}`);
    return state as TaskState;
  });

// The filter flags that take comma-separated lists (read with listOf).
const listFlags = new Set(["queue", "state", "id"]);

/** True when any filter flag (or a positional id) was given. */
export const hasFilter = (parsed: Parsed, ids: ReadonlyArray<string> = []): boolean =>
  ids.length > 0 || Object.keys(filterOptions).some((name) => parsed.values[name] !== undefined);

/**
 * The ops `TaskFilter` the flags describe; `ids` adds positional task ids.
 * Bad values are usage errors naming the flag.
 */
export const filterOf = (parsed: Parsed, ids: ReadonlyArray<string> = [], now = new Date()): TaskFilter => {
  // A flag given with nothing in it (`--queue "$UNSET"`, `--state=`, `--id ,`)
  // would otherwise drop out of the filter and widen a bulk action to every
  // queue: refused, naming the flag. In the comma lists (queue, state, id)
  // any empty part is refused too: `--queue x --queue "$UNSET"` or `--id 1,`
  // is as likely a lost value.
  for (const name of Object.keys(filterOptions)) {
    const value = parsed.values[name];
    const given =
      typeof value === "string" ? [value] : Array.isArray(value) ? (value as string[]) : undefined;
    if (given === undefined) continue;
    const parts = listFlags.has(name) ? given.join(",").split(",") : given;
    if (parts.some((part) => part.trim() === ""))
      throw new UsageError(
        `--${name} was given without a value, or with an empty one (an empty variable?): give one, or leave the flag out`,
      );
  }
  const queues = listOf(parsed, "queue");
  const states = statesOf(parsed);
  const allIds = [...ids, ...listOf(parsed, "id")].map(checkTaskId);
  const job = stringOf(parsed, "job");
  const batch = stringOf(parsed, "batch");
  const key = stringOf(parsed, "key");
  const error = stringOf(parsed, "error");
  const input = stringOf(parsed, "input");
  const after = stringOf(parsed, "after");
  const before = stringOf(parsed, "before");
  let inputContains: JsonValue | undefined;
  if (input !== undefined) {
    try {
      inputContains = JSON.parse(input) as JsonValue;
    } catch (cause) {
      throw new UsageError(`--input must be JSON, e.g. '{"userId":42}': ${(cause as Error).message}`);
    }
  }
  return {
    ...(queues.length > 0 ? { queue: queues } : {}),
    ...(states.length > 0 ? { state: states } : {}),
    ...(allIds.length > 0 ? { ids: allIds } : {}),
    ...(job === undefined ? {} : { jobId: checkJobId(job) }),
    ...(batch === undefined ? {} : { batchId: checkBatchId(batch) }),
    ...(key === undefined ? {} : { concurrencyKey: key }),
    ...(error === undefined ? {} : { errorLike: error }),
    ...(inputContains === undefined ? {} : { inputContains }),
    ...(after === undefined ? {} : { createdAfter: timeOf("after", after, now) }),
    ...(before === undefined ? {} : { createdBefore: timeOf("before", before, now) }),
  };
};
