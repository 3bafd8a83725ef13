// The ops API on a large table: builds (or reuses) a task table of
// 10 million rows in schema `bench_ops` with generate_series, VACUUM
// ANALYZEs it, then times `ops.queues()` and `ops.tasks(...)` (first page,
// a deep page, several filters), median of several calls each, and writes
// the figures between the markers in docs/operations.md.
//
//   npm run bench:ops                     # 10 M rows, reused if present
//   npm run bench:ops -- --rows 1000000   # a smaller table
//   npm run bench:ops -- --rebuild        # build the table again
//   npm run bench:ops -- --no-write       # print only
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { silentLogger, Underway, type TaskFilter, type ListOptions } from "../src/index.ts";
import { medianMs } from "./medianMs.ts";
import { moveFinished } from "./moveFinished.ts";
import { withClient } from "./withClient.ts";

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "10000000" },
    rebuild: { type: "boolean", default: false },
    "no-write": { type: "boolean", default: false },
    runs: { type: "string", default: "7" },
  },
});
const url = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const schema = "bench_ops";
const rows = Number(args.rows);
const runs = Number(args.runs);
const log = (message: string) => process.stderr.write(`${message}\n`);

// The mix: mostly succeeded, as a queue that keeps finished tasks for their
// ttl looks. Queues by share of rows; states by share within a queue.
const fill = `
insert into ${schema}.task (queue_name, state, input, error, attempt, max_attempts, retry_initial_ms, retry_max_ms,
  retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, priority, concurrency_key, run_at,
  created_at, started_at, finished_at, dlq_from, lease_expires_at, worker_id)
select q, s::${schema}.task_state,
       jsonb_build_object('userId', i % 100000, 'kind', case when i % 3 = 0 then 'welcome' else 'digest' end),
       case when s in ('failed', 'cancelled') then
         case when i % 4 = 0 then 'SMTP timeout after 30 s' when i % 4 = 1 then 'HTTP 503 from provider'
              when s = 'cancelled' then 'cancelled' else 'TypeError: cannot read properties of undefined' end end,
       case when s = 'pending' then 0 else 1 + i % 3 end, 5, 1000, 60000, 2, 0.5, 900000, 30000, 1209600000,
       case when i % 10 = 0 then 5 else 0 end,
       case when i % 10 = 1 then 'account:' || (i % 5000) end,
       at + case when s = 'pending' and i % 7 = 0 then interval '1 hour' else interval '0' end,
       at,
       case when s <> 'pending' then at end,
       case when s in ('succeeded', 'failed', 'cancelled') then at + interval '2 seconds' end,
       case when q = 'email-dlq' then 'email' end,
       case when s = 'in_progress' then now() + interval '30 seconds' end,
       case when s = 'in_progress' then 'bench:1:worker' end
  from (
    select i, at,
           case when r < 0.40 then 'email' when r < 0.65 then 'billing' when r < 0.80 then 'reports'
                when r < 0.95 then 'webhooks' else 'email-dlq' end as q,
           case when r >= 0.95 then 'failed'
                when f < 0.90 then 'succeeded' when f < 0.93 then 'failed' when f < 0.94 then 'cancelled'
                when f < 0.998 then 'pending' else 'in_progress' end as s
      from (
        select i, now() - interval '14 days' * (1 - i::float8 / $2) as at,
               (hashint8(i) & 1023) / 1024.0 as r, (hashint8(i * 7919) & 1023) / 1024.0 as f
          from generate_series($1::bigint, $1::bigint + $3 - 1) i
      ) numbered
  ) mixed`;

const build = async (): Promise<void> => {
  await withClient(url, async (client) => {
    const { rows: counted } = await client.query<{ n: string }>(
      `select sum(reltuples)::bigint::text as n from pg_class
        where oid in ('${schema}.task'::regclass, '${schema}.task_finished'::regclass)`,
    );
    const present = Number(counted[0]?.n ?? 0);
    if (!args.rebuild && Math.abs(present - rows) < rows * 0.05) {
      log(`reusing ${schema}.task (about ${present} rows)`);
      return;
    }
    log(`building ${schema}.task with ${rows} rows…`);
    await client.query(
      `truncate ${schema}.task, ${schema}.task_finished, ${schema}.task_attempt, ${schema}.task_event, ${schema}.queue`,
    );
    // Loaded without its secondary indexes, which are built once afterwards
    // (as a restore would): same indexes, a fraction of the time.
    const { rows: indexes } = await client.query<{ name: string; definition: string }>(
      `select indexname as name, indexdef as definition from pg_indexes
        where schemaname = $1 and tablename = 'task' and indexname <> 'task_pkey'`,
      [schema],
    );
    for (const index of indexes) await client.query(`drop index ${schema}.${index.name}`);
    const chunk = 1_000_000;
    for (let start = 1; start <= rows; start += chunk) {
      const started = Date.now();
      await client.query(fill, [start, rows, Math.min(chunk, rows - start + 1)]);
      log(`  ${Math.min(start + chunk - 1, rows)} rows (${Date.now() - started} ms)`);
    }
    log(`  ${await moveFinished(client, schema)} finished rows moved to task_finished`);
    for (const index of indexes) {
      const started = Date.now();
      await client.query(index.definition);
      log(`  index ${index.name} (${Date.now() - started} ms)`);
    }
    await client.query(
      `insert into ${schema}.queue (name, dlq_name) values ('email', 'email-dlq'), ('email-dlq', null),
         ('billing', null), ('reports', null), ('webhooks', null) on conflict do nothing`,
    );
  });
  log("vacuum analyze…");
  await withClient(url, async (client) => {
    await client.query(`vacuum analyze ${schema}.task`);
    await client.query(`vacuum analyze ${schema}.task_finished`);
  });
};

const time = (fn: () => Promise<unknown>): Promise<number> => medianMs(fn, runs);

const main = async () => {
  const underway = await Underway.connect({ connectionString: url, schema, logger: silentLogger });
  try {
    await build();
    const { ops } = underway;
    /** The cursor after `pages` pages of `filter`. */
    const deepCursor = async (filter: TaskFilter, pages: number): Promise<string> => {
      let after: string | undefined;
      for (let page = 0; page < pages; page += 1) {
        const result = await ops.tasks(filter, { limit: 50, ...(after === undefined ? {} : { after }) });
        if (result.next === null) break;
        after = result.next;
      }
      if (after === undefined) throw new Error("no deep page");
      return after;
    };
    const list =
      (filter: TaskFilter, options: ListOptions = {}) =>
      () =>
        ops.tasks(filter, { limit: 50, ...options });
    const deep = await deepCursor({ queue: "email" }, 200);
    const deepFailed = await deepCursor({ queue: "email", state: "failed" }, 100);
    const cases: Array<[string, () => Promise<unknown>]> = [
      ["`ops.queues()` (5 queues, counts per state, oldest pending age)", () => ops.queues()],
      ["`tasks({})` first page, newest first", list({})],
      ["`tasks({ queue: 'email' })` first page", list({ queue: "email" })],
      ["`tasks({ queue: 'email' })` page 201 (after 10,000 rows)", list({ queue: "email" }, { after: deep })],
      ["`tasks({ queue: 'email', state: 'failed' })` first page", list({ queue: "email", state: "failed" })],
      [
        "`tasks({ queue: 'email', state: 'failed' })` page 101",
        list({ queue: "email", state: "failed" }, { after: deepFailed }),
      ],
      [
        "`tasks({ state: 'pending' })` first page, oldest first",
        list({ state: "pending" }, { order: "oldest" }),
      ],
      [
        "`tasks({ queue: 'email', state: 'failed', errorLike: 'smtp' })`",
        list({ queue: "email", state: "failed", errorLike: "smtp" }),
      ],
      [
        "`tasks({ queue: 'billing', state: 'failed', inputContains: { userId: 42 } })`",
        list({ queue: "billing", state: "failed", inputContains: { userId: 42 } }),
      ],
      ["`tasks({ concurrencyKey: 'account:42' })`", list({ concurrencyKey: "account:42" })],
      // Across every queue: error text off the trigram index (common, rare
      // and absent text), a pattern without a trigram and inputs by a
      // bounded walk of the newest 100,000 tasks.
      ["`tasks({ errorLike: 'smtp' })`, every queue (2.5% of rows match)", list({ errorLike: "smtp" })],
      [
        "`tasks({ errorLike: 'quota exceeded' })`, every queue (no match)",
        list({ errorLike: "quota exceeded" }),
      ],
      ["`tasks({ errorLike: '30' })`, every queue (no trigram: bounded)", list({ errorLike: "30" })],
      [
        "`tasks({ inputContains: { kind: 'welcome' } })`, every queue (a third match)",
        list({ inputContains: { kind: "welcome" } }),
      ],
      [
        "`tasks({ inputContains: { userId: 42 } })`, every queue (1 in 100,000: bounded)",
        list({ inputContains: { userId: 42 } }),
      ],
      [
        "`tasks({ queue: 'reports', createdAfter: 1 day ago })`",
        list({ queue: "reports", createdAfter: new Date(Date.now() - 86_400_000) }),
      ],
    ];
    const figures: Array<[string, number]> = [];
    for (const [name, fn] of cases) {
      const ms = await time(fn);
      figures.push([name, ms]);
      log(`${ms.toFixed(1).padStart(8)} ms  ${name}`);
    }
    const { rows: size } = await underway.pool.query<{ n: string; bytes: string }>(
      `select reltuples::bigint::text as n, pg_size_pretty(pg_total_relation_size('${schema}.task')) as bytes
         from pg_class where oid = '${schema}.task'::regclass`,
    );
    const load = os.loadavg()[0]?.toFixed(2) ?? "?";
    const section = [
      `Measured by \`npm run bench:ops\` on ${new Date().toISOString().slice(0, 10)}: a task table of about`,
      `${Number(size[0]?.n ?? 0).toLocaleString("en-US")} rows (${size[0]?.bytes ?? "?"} with indexes; 5 queues, 90% of each`,
      `queue's rows succeeded), after VACUUM ANALYZE; median of ${runs} calls after one warm-up, 50 tasks a page.`,
      `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? "?"}), shared with other work and loaded`,
      `(load average ${load} at the end), PostgreSQL ${(await underway.pool.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ?? "?"}.`,
      "",
      "| call | median |",
      "| --- | ---: |",
      ...figures.map(([name, ms]) => `| ${name} | ${ms.toFixed(1)} ms |`),
    ].join("\n");
    process.stdout.write(`${section}\n`);
    if (!args["no-write"]) {
      const path = new URL("../docs/operations.md", import.meta.url);
      const text = readFileSync(path, "utf8");
      const start = "<!-- bench:ops:start -->";
      const end = "<!-- bench:ops:end -->";
      const from = text.indexOf(start);
      const to = text.indexOf(end);
      if (from < 0 || to < from) throw new Error(`docs/operations.md lacks the ${start} … ${end} markers`);
      writeFileSync(path, `${text.slice(0, from + start.length)}\n${section}\n${text.slice(to)}`);
      log("wrote docs/operations.md");
    }
  } finally {
    await underway.close();
  }
};

await main();
