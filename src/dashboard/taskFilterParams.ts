import { checkBatchId } from "../identifier.ts";
import type { JsonValue } from "../json.ts";
import type { TaskFilter, TaskState } from "./opsContract.ts";

const stateNames: ReadonlyArray<string> = ["pending", "in_progress", "succeeded", "cancelled", "failed"];

/** @internal The filter fields of the tasks list, as URL or form parameters. */
export const filterKeys = ["queue", "state", "id", "job", "batch", "error", "input"] as const;

/** @internal A filter read from parameters, and what could not be read. */
export interface ParsedFilter {
  readonly filter: TaskFilter;
  /** The raw parameters, to put back in links and forms. */
  readonly params: Readonly<Record<(typeof filterKeys)[number], string>>;
  readonly problems: ReadonlyArray<string>;
}

const parseScalar = (text: string): JsonValue => {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
};

/**
 * `{"user":{"id":3}}` (containment), or the shorthand `user.id=3`
 * (a JSON path and a value: a number, true, "text" or bare text).
 */
const parseInput = (text: string): { readonly value: JsonValue } | { readonly problem: string } => {
  if (text.startsWith("{") || text.startsWith("[")) {
    try {
      return { value: JSON.parse(text) as JsonValue };
    } catch (error) {
      return { problem: `the input filter is not valid JSON: ${(error as Error).message}` };
    }
  }
  const match = /^([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)\s*=\s*(.*)$/s.exec(text);
  if (match === null)
    return { problem: 'the input filter is JSON ({"user":{"id":3}}) or path=value (user.id=3)' };
  const path = (match[1] ?? "").split(".");
  return {
    value: path.reduceRight<JsonValue>((value, key) => ({ [key]: value }), parseScalar(match[2] ?? "")),
  };
};

/** @internal Reads the tasks filter; problems are shown, never thrown. */
export const parseFilter = (params: URLSearchParams): ParsedFilter => {
  const get = (key: string) => (params.get(key) ?? "").trim();
  const raw = Object.fromEntries(filterKeys.map((key) => [key, get(key)])) as Record<
    (typeof filterKeys)[number],
    string
  >;
  const problems: string[] = [];
  const filter: { -readonly [K in keyof TaskFilter]: TaskFilter[K] } = {};
  if (raw.queue !== "") filter.queue = raw.queue;
  const states = params.getAll("state").filter((s) => s !== "");
  if (states.length > 0) {
    const bad = states.filter((s) => !stateNames.includes(s));
    if (bad.length > 0) problems.push(`unknown state ${bad.join(", ")}`);
    else filter.state = states as TaskState[];
  }
  const ids = [...raw.id.split(/[\s,]+/), ...params.getAll("ids")].filter((s) => s !== "");
  if (ids.length > 0) {
    if (ids.some((id) => !/^[0-9]{1,19}$/.test(id))) problems.push("task ids are positive integers");
    else filter.ids = ids;
  }
  if (raw.job !== "") filter.jobId = raw.job;
  if (raw.batch !== "") {
    try {
      filter.batchId = checkBatchId(raw.batch);
    } catch {
      problems.push("a batch id is a positive integer");
    }
  }
  if (raw.error !== "") filter.errorLike = raw.error;
  if (raw.input !== "") {
    const input = parseInput(raw.input);
    if ("problem" in input) problems.push(input.problem);
    else filter.inputContains = input.value;
  }
  return { filter, params: raw, problems };
};
