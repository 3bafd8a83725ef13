import pg from "pg";
import type { BenchSystem, RunningWorker, TaskHandler, TaskPayload } from "../system.ts";
import { dropSchema, withClient } from "../withClient.ts";
import { poolSize } from "./poolSize.ts";

const schema = "bench_raw";
const table = `${schema}.task`;
/** How long an idle worker waits before it polls again: there is no LISTEN, by design of the floor. */
const idlePollMs = 2;

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * The floor: the least work a PostgreSQL queue can do per task. One-row
 * inserts; one statement per batch that claims with `FOR UPDATE SKIP LOCKED`
 * and deletes what it claimed, so a task is gone before its handler runs
 * (at most once: a crash loses the batch). No retries, no notifications, no
 * bookkeeping: what any real queue does on top of this is its overhead.
 * `state` exists only so the table-growth workload can park finished rows
 * beside pending ones; the partial index keeps the claim off them.
 */
export const rawSql = (): BenchSystem => {
  let url = "";
  let pool: pg.Pool | undefined;
  const db = (): pg.Pool => {
    if (pool === undefined) throw new Error("raw-sql: setup first");
    return pool;
  };

  const work = async (concurrency: number, handler: TaskHandler, stopped: () => boolean): Promise<void> => {
    while (!stopped()) {
      const claimed = await db().query<{ payload: TaskPayload }>(
        `delete from ${table} where id in (
           select id from ${table} where state = 0 order by id limit $1 for update skip locked
         ) returning payload`,
        [concurrency],
      );
      if (claimed.rows.length === 0) {
        await sleep(idlePollMs);
        continue;
      }
      await Promise.all(claimed.rows.map(async (row) => handler(row.payload)));
    }
  };

  return {
    name: "raw-sql",
    schema,
    async setup(databaseUrl, fresh) {
      url = databaseUrl;
      if (fresh) {
        await dropSchema(url, schema);
        await withClient(url, async (client) => {
          await client.query(`create schema ${schema}`);
          await client.query(
            `create table ${table} (id bigserial primary key, payload jsonb not null, state smallint not null default 0)`,
          );
          await client.query(`create index task_pending on ${table} (id) where state = 0`);
        });
      }
      pool = new pg.Pool({ connectionString: url, max: poolSize });
    },
    async reset() {
      await db().query(`truncate ${table}`);
    },
    async bulkInsert(payloads) {
      await db().query(`insert into ${table} (payload) select * from unnest($1::jsonb[])`, [
        payloads.map((p) => JSON.stringify(p)),
      ]);
    },
    async enqueue(payload) {
      await db().query(`insert into ${table} (payload) values ($1)`, [payload]);
    },
    async startWorker(concurrency, handler): Promise<RunningWorker> {
      let stop = false;
      const loop = work(concurrency, handler, () => stop);
      // A failed loop surfaces from stop(); until then the workload's progress timeout notices it.
      loop.catch(() => undefined);
      return {
        async stop() {
          stop = true;
          await loop;
        },
      };
    },
    async fillFinished(n) {
      await withClient(url, async (client) => {
        await client.query(
          `insert into ${table} (payload, state) select jsonb_build_object('i', g, 't', 0), 1 from generate_series(1, $1::int) g`,
          [n],
        );
      });
    },
    async teardown() {
      await pool?.end();
      pool = undefined;
    },
  };
};
