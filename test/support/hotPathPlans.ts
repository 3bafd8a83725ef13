/**
 * The worker's batch statements, run under EXPLAIN as prepared statements
 * with a chosen plan_cache_mode, on a table filled by {@link fillTasks}:
 * shared by test/genericPlans.test.ts and benchmarks/storage/genericPlans.ts.
 */
import { escapeLiteral, type ClientBase } from "pg";
import type { QueryName } from "../../src/db/queryNames.ts";
import { quoteSchema } from "../../src/identifier.ts";

/** force_generic_plan: as a named statement runs after five executions; force_custom_plan: as an unnamed one. */
export type Mode = "generic" | "custom";

/** One statement and the EXECUTE arguments (SQL expressions) of a batch of `n` in-progress tasks. */
export interface PlanCase {
  readonly name: QueryName;
  readonly args: (n: number) => ReadonlyArray<string>;
}

/** The ids {@link fillTasks} put in progress, the first `n` of them. */
const ids = (n: number): string =>
  `${escapeLiteral(`{${Array.from({ length: n }, (_, i) => i + 1).join(",")}}`)}::bigint[]`;
const fill = (value: string, n: number): string => `array_fill(${value}, array[${n}])`;
const fenced = (n: number): ReadonlyArray<string> => [ids(n), fill("1", n)];
const successes = (n: number): ReadonlyArray<string> => [...fenced(n), fill("'{}'::jsonb", n)];
/** A next step per task (tasksCompleteAndContinue's $4 … $21). */
const steps = (n: number): ReadonlyArray<string> => [
  ids(n),
  fill("'{}'::jsonb", n),
  ...["3", "1000", "60000"].map((v) => fill(`${v}::integer`, n)),
  ...["2", "0.1"].map((v) => fill(`${v}::float8`, n)),
  ...["0", "30000"].map((v) => fill(`${v}::integer`, n)),
  fill("86400000::bigint", n),
  fill("0", n),
  fill("null::text", n),
  fill("1", n),
  fill("null::text", n),
  fill("null::text", n),
  fill("0::float8", n),
  fill("null::text", n),
  fill("null::float8", n),
  fill("1", n),
];
/** A claim of `n` more from queue `q`, all started. */
const claim = (n: number): ReadonlyArray<string> => ["'q'", String(n), "'w'", String(n)];

/** Every statement of the hot path that takes a batch of tasks. */
export const hotPathCases: ReadonlyArray<PlanCase> = [
  { name: "tasksClaim", args: claim },
  { name: "tasksStart", args: fenced },
  { name: "tasksHeartbeat", args: fenced },
  { name: "tasksComplete", args: successes },
  { name: "tasksCompleteAndClaim", args: (n) => [...successes(n), ...claim(n)] },
  { name: "tasksCompleteAndContinue", args: (n) => [...successes(n), ...steps(n)] },
  { name: "tasksRelease", args: fenced },
];

/**
 * `total` pending tasks in queue `q`, the first `inProgress` of them
 * (ids 1 … inProgress) claimed at attempt 1 and not started (as prefetched
 * keyed tasks are, so tasksStart has work too), then analyzed.
 */
export const fillTasks = async (
  client: ClientBase,
  schema: string,
  total: number,
  inProgress: number,
): Promise<void> => {
  const s = quoteSchema(schema);
  await client.query(`truncate ${s}.task, ${s}.task_finished restart identity cascade`);
  await client.query(
    `insert into ${s}.task (queue_name, input, max_attempts, retry_initial_ms, retry_max_ms, retry_coefficient,
                            retry_jitter, timeout_ms, heartbeat_ms, ttl_ms)
     select 'q', jsonb_build_object('n', g), 3, 1000, 60000, 2, 0.1, 0, 30000, 86400000
       from generate_series(1, $1::integer) g`,
    [total],
  );
  await client.query(
    `update ${s}.task set state = 'in_progress', attempt = 1, worker_id = 'w',
            lease_expires_at = now() + interval '30 seconds'
      where id <= $1`,
    [inProgress],
  );
  await client.query(`analyze ${s}.task`);
};

/** A node of EXPLAIN (FORMAT JSON)'s plan tree, with the fields read here. */
export interface PlanNode {
  readonly "Node Type": string;
  readonly "Relation Name"?: string;
  readonly "Actual Rows"?: number;
  readonly "Actual Loops"?: number;
  readonly "Rows Removed by Filter"?: number;
  readonly "Rows Removed by Join Filter"?: number;
  readonly "Rows Removed by Index Recheck"?: number;
  readonly "Shared Hit Blocks"?: number;
  readonly Plans?: ReadonlyArray<PlanNode>;
}

/** EXPLAIN (FORMAT JSON)'s one element. */
export interface Explained {
  readonly Plan: PlanNode;
  readonly "Execution Time"?: number;
}

/**
 * Runs `text` (one query file, schema substituted) as a prepared statement
 * under EXPLAIN (ANALYZE, BUFFERS) in a transaction rolled back afterwards,
 * with plan_cache_mode forcing the plan kind: its JSON and text plans, and
 * the plans of the statements it ran inside functions and triggers
 * (`nested`, by auto_explain: the claim's are inside task_claim, which
 * plans them generically whatever the mode).
 */
export const explainGeneric = async (
  client: ClientBase,
  text: string,
  args: ReadonlyArray<string>,
  mode: Mode,
): Promise<{
  json: Explained;
  text: string;
  nested: ReadonlyArray<Explained & { readonly "Query Text": string }>;
}> => {
  const notices: string[] = [];
  const onNotice = (notice: { readonly message?: string }): void => {
    notices.push(notice.message ?? "");
  };
  const run = async (format: string): Promise<unknown[]> => {
    await client.query("begin");
    try {
      await client.query(`set local plan_cache_mode = force_${mode}_plan`);
      if (format === "json") await logNestedPlans(client);
      await client.query(`prepare plan_probe as ${text}`);
      const result = await client.query<Record<string, unknown>>(
        `explain (analyze, buffers, format ${format}) execute plan_probe(${args.join(", ")})`,
      );
      return result.rows.map((row) => Object.values(row)[0]);
    } finally {
      await client.query("rollback");
      await client.query("deallocate all");
    }
  };
  client.on("notice", onNotice);
  try {
    const [json] = (await run("json"))[0] as [Explained];
    const textPlan = (await run("text")).join("\n");
    return { json, text: textPlan, nested: nestedOf(notices) };
  } finally {
    client.off("notice", onNotice);
  }
};

/**
 * Has auto_explain send the client, as notices, the plan (JSON, analyzed,
 * with buffers) of every statement run until the transaction ends, those
 * run inside functions and triggers included: the plans a function keeps
 * for its statements, which EXPLAIN of the calling statement does not show.
 */
export const logNestedPlans = async (client: ClientBase): Promise<void> => {
  await client.query("load 'auto_explain'");
  for (const [name, value] of [
    ["log_min_duration", "0"],
    ["log_nested_statements", "on"],
    ["log_analyze", "on"],
    ["log_buffers", "on"],
    ["log_format", "json"],
    ["log_level", "notice"],
  ])
    await client.query(`set local auto_explain.${name} = ${value}`);
};

/** The plans in auto_explain's notices ({@link logNestedPlans}), in the order the statements ended. */
export const nestedOf = (
  notices: ReadonlyArray<string>,
): ReadonlyArray<Explained & { readonly "Query Text": string }> =>
  notices.flatMap((message) => {
    const at = message.indexOf("plan:\n");
    return at < 0
      ? []
      : [JSON.parse(message.slice(at + "plan:\n".length)) as Explained & { readonly "Query Text": string }];
  });

/** What a plan did, over all the loops of each node. */
export interface PlanSummary {
  /** Buffers hit by the top node (its children included). */
  readonly hits: number;
  readonly time: number;
  /** The most rows a node removed by a filter, join filter or recheck, times its loops. */
  readonly mostRemoved: number;
  /** The most rows a node returned, times its loops. */
  readonly mostRows: number;
  /** Whether `relation` was read by a sequential scan. */
  readonly seqScan: boolean;
}

const nodesOf = (node: PlanNode): ReadonlyArray<PlanNode> => [node, ...(node.Plans ?? []).flatMap(nodesOf)];

/** Summarises one EXPLAIN (ANALYZE, FORMAT JSON) plan: see {@link PlanSummary}. */
export const summarise = (explained: Explained, relation: string): PlanSummary => {
  const nodes = nodesOf(explained.Plan);
  const loops = (n: PlanNode): number => n["Actual Loops"] ?? 1;
  return {
    hits: explained.Plan["Shared Hit Blocks"] ?? 0,
    time: explained["Execution Time"] ?? 0,
    mostRemoved: Math.max(
      0,
      ...nodes.map(
        (n) =>
          ((n["Rows Removed by Filter"] ?? 0) +
            (n["Rows Removed by Join Filter"] ?? 0) +
            (n["Rows Removed by Index Recheck"] ?? 0)) *
          loops(n),
      ),
    ),
    mostRows: Math.max(0, ...nodes.map((n) => (n["Actual Rows"] ?? 0) * loops(n))),
    seqScan: nodes.some((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === relation),
  };
};
