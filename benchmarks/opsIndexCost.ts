// What the ops indexes of migration 0008 cost the write path, in isolation:
// the same statements (a bulk insert, a claim-like and a completion-like
// state change) on schema `bench_ops_cost`, with task_queue_state_idx and
// task_key_list_idx dropped or present, alternating, median of the rounds.
// End-to-end figures (npm run bench) swing by more than these costs on a
// shared machine; this isolates them. See docs/design/ops-queries.md.
//
//   npx tsx benchmarks/opsIndexCost.ts [--rows 100000] [--rounds 5]
import { parseArgs } from "node:util";
import { migrate } from "../src/index.ts";
import pg from "pg";

const { values: args } = parseArgs({
  options: { rows: { type: "string", default: "100000" }, rounds: { type: "string", default: "5" } },
});
const url = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
const schema = "bench_ops_cost";
const rows = Number(args.rows);
const rounds = Number(args.rounds);

const pool = new pg.Pool({ connectionString: url, max: 1 });
await pool.query(`drop schema if exists ${schema} cascade`);
await migrate(pool, { schema });

const indexes = {
  drop: `drop index if exists ${schema}.task_queue_state_idx; drop index if exists ${schema}.task_key_list_idx`,
  create: `create index task_queue_state_idx on ${schema}.task (queue_name, state, id);
           create index task_key_list_idx on ${schema}.task (concurrency_key, id) where concurrency_key is not null`,
};
const insert = `insert into ${schema}.task (queue_name, input, max_attempts, retry_initial_ms, retry_max_ms,
    retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, concurrency_key)
  select case when i % 4 = 0 then 'a' when i % 4 = 1 then 'b' when i % 4 = 2 then 'c' else 'd' end,
         jsonb_build_object('n', i), 5, 1000, 60000, 2, 0.5, 900000, 30000, 1209600000,
         case when i % 10 = 0 then 'k' || (i % 100) end
    from generate_series(1, $1::int) i`;
const claim = `update ${schema}.task set state = 'in_progress', attempt = attempt + 1, started_at = now(),
    lease_expires_at = now() + interval '30 seconds', worker_id = 'w' where state = 'pending'`;
const complete = `update ${schema}.task set state = 'succeeded', finished_at = now(), lease_expires_at = null
  where state = 'in_progress'`;

const timed = async (text: string, values: unknown[] = []): Promise<number> => {
  const started = performance.now();
  await pool.query(text, values);
  return performance.now() - started;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

const figures: Record<string, Record<string, number[]>> = { without: {}, with: {} };
for (let round = 0; round < rounds; round += 1) {
  for (const variant of ["without", "with"] as const) {
    await pool.query(`truncate ${schema}.task`);
    await pool.query(indexes.drop);
    if (variant === "with") await pool.query(indexes.create);
    await pool.query("checkpoint");
    const f = figures[variant] ?? {};
    (f["insert"] ??= []).push(await timed(insert, [rows]));
    await pool.query(`vacuum analyze ${schema}.task`);
    (f["claim"] ??= []).push(await timed(claim));
    (f["complete"] ??= []).push(await timed(complete));
    figures[variant] = f;
  }
}
const us = (ms: number) => ((ms * 1000) / rows).toFixed(2);
console.log(`${rows} rows, median of ${rounds} rounds (µs per row; ms per statement)`);
console.log("| statement | without | with | added |");
console.log("| --- | ---: | ---: | ---: |");
for (const name of ["insert", "claim", "complete"]) {
  const a = median(figures["without"]?.[name] ?? []);
  const b = median(figures["with"]?.[name] ?? []);
  console.log(
    `| ${name} | ${us(a)} µs (${a.toFixed(0)} ms) | ${us(b)} µs (${b.toFixed(0)} ms) | ${(((b - a) / a) * 100).toFixed(0)}% |`,
  );
}
await pool.query(`drop schema ${schema} cascade`);
await pool.end();
