// A named statement that meets another client's (what a transaction-mode
// pooler does to underway's prepared statements, see test/pgbouncer.test.ts
// for the real PgBouncer), reproduced on one PostgreSQL session: the name is
// PREPAREd on every session of the pool before underway uses it.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import * as t from "io-ts";
import pg from "pg";
import { ConfigError, defineJob, Underway } from "../src/index.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

describe("named statements that collide", () => {
  const pools: pg.Pool[] = [];
  const clients: Underway[] = [];
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(pools.map((pool) => pool.end()));
  });
  const { db } = useDatabase("named_statements");

  /** A client on a pool of `size` sessions, each already holding `names` (as another client sharing it would). */
  const collidingClient = async (size: number, names: ReadonlyArray<string>) => {
    const pool = new pg.Pool({ connectionString: db().url, max: size });
    // An idle connection ended by the database's drop must not throw.
    pool.on("error", () => undefined);
    pools.push(pool);
    const logger = recordingLogger();
    const underway = await Underway.connect({ pool, logger });
    clients.push(underway);
    const sessions = await Promise.all(Array.from({ length: size }, () => pool.connect()));
    for (const session of sessions)
      for (const name of names) await session.query(`prepare "underway.underway.${name}" as select 1`);
    for (const session of sessions) session.release();
    return { underway, logger };
  };

  it("an enqueue that collides rejects with a ConfigError naming preparedStatements: false and docs/scaling.md, and writes nothing", async () => {
    const { underway, logger } = await collidingClient(2, ["tasksEnqueueOne"]);
    const job = underway.job(defineJob({ queue: "named_enqueue", input: N }));
    await assert.rejects(
      job.enqueue({ n: 1 }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message.includes("`preparedStatements: false`") &&
        error.message.includes("docs/scaling.md"),
    );
    const { rows } = await db().pool.query<{ n: number }>(
      "select count(*)::int as n from underway.task_all where queue_name = 'named_enqueue'",
    );
    assert.equal(rows[0]?.n, 0, "the enqueue that failed wrote nothing");
    assert.equal(
      logger.lines.filter(
        (line) => line.level === "error" && line.message.includes("preparedStatements: false"),
      ).length,
      1,
      "the collision is logged once, at error level",
    );
    // The client went on with unnamed statements: later calls work.
    const id = await job.enqueue({ n: 2 });
    assert.equal(typeof id, "string");
  });

  it("a worker whose result write collides records it anyway: every task succeeds on its first attempt, none runs twice", async () => {
    const { underway, logger } = await collidingClient(4, ["tasksComplete", "tasksCompleteAndClaim"]);
    const job = underway.job(
      defineJob({ queue: "named_complete", input: N, options: { heartbeatMs: 1_000 } }),
    );
    const ran: number[] = [];
    const worker = job.start(
      async ({ n }) => {
        ran.push(n);
        return null;
      },
      { concurrency: 2, pollIntervalMs: 100 },
    );
    try {
      await job.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ n })));
      const states = async () => {
        const { rows } = await db().pool.query<{ state: string; attempt: number }>(
          "select state::text, attempt from underway.task_all where queue_name = 'named_complete'",
        );
        return rows;
      };
      await eventually(
        async () => (await states()).filter((row) => row.state === "succeeded").length === 20,
        10_000,
        "every task to succeed",
      );
      assert.ok(
        (await states()).every((row) => row.attempt === 1),
        "each on its first attempt",
      );
      // Long enough for a lost result's lease (3 heartbeats) to expire and its task to run again.
      await new Promise((done) => setTimeout(done, 3_500));
      assert.deepEqual(
        [...ran].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, n) => n),
        "each task ran once",
      );
      assert.ok(
        logger.lines.some((line) => line.level === "error" && line.message.includes("docs/scaling.md")),
      );
    } finally {
      await worker.stop();
    }
  });
});
