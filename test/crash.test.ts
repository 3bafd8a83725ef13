import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob } from "../src/index.ts";
import { createRunTable, statesOf, summary } from "./support/faults.ts";
import { eventually, useDatabase } from "./support/harness.ts";
import { spawnFixture, type FixtureProcess } from "./support/processes.ts";

const N = t.type({ n: t.number });

describe("crash", () => {
  const { db, connect } = useDatabase("crash");

  const runsOf = async (pid: number) => {
    const { rows } = await db().pool.query<{ started: number; ended: number }>(
      "select count(*)::int as started, count(ended_at)::int as ended from fault_run where pid = $1",
      [pid],
    );
    return rows[0] ?? { started: 0, ended: 0 };
  };

  /** The attempts in progress now: once a killed worker's backends are gone, exactly the ones it held. */
  const inProgress = async (): Promise<string[]> => {
    const { rows } = await db().pool.query<{ key: string }>(
      "select id || '/' || attempt as key from underway.task_all where queue_name = 'crash' and state = 'in_progress'",
    );
    return rows.map((row) => row.key);
  };

  /**
   * SIGKILL, then wait until the server has noticed: a statement the worker
   * sent just before dying (a completion) may still commit until its
   * backend exits.
   */
  const kill = async (worker: FixtureProcess): Promise<void> => {
    worker.child.kill("SIGKILL");
    assert.equal(await worker.exited, "SIGKILL");
    await eventually(async () => {
      const { rows } = await db().pool.query("select 1 from pg_stat_activity where application_name = $1", [
        `faultWorker:${worker.pid}`,
      ]);
      return rows.length === 0;
    }, 10_000);
  };

  it("tasks of workers killed with SIGKILL mid-run are finished by another worker, each succeeding once", async () => {
    const underway = await connect();
    await createRunTable(db().pool);
    // A lease of 3 s: long enough that the survivor, stalled by a loaded CI
    // machine, still renews in time (with 1 s one of its own attempts was once
    // reaped as lost), short enough that the victims' tasks come back soon.
    const job = underway.job(defineJob({ queue: "crash", input: N, options: { heartbeatMs: 3_000 } }));
    const succeeded = new Map<string, number>();
    const watching = job.outcomes$.subscribe((outcome) => {
      if (outcome._tag === "succeeded")
        succeeded.set(outcome.taskId, (succeeded.get(outcome.taskId) ?? 0) + 1);
    });
    await underway.listening();
    const tasks = 40;
    const ids = await job.enqueueMany(Array.from({ length: tasks }, (_, n) => ({ n })));
    const worker = { url: db().url, queue: "crash", handlerMs: 300, concurrency: 5, pollIntervalMs: 200 };

    // Two workers die mid-run, each holding five tasks; the third finishes.
    const lostAtKill = new Set<string>();
    let kills = 0;
    for (const reapIntervalMs of [0, 300]) {
      const victim = spawnFixture("faultWorker", { ...worker, reapIntervalMs });
      await eventually(async () => (await runsOf(victim.pid)).ended >= 5, 20_000, "the victim's runs");
      await kill(victim);
      kills += 1;
      const held = await inProgress();
      assert.ok(held.length > 0, "the victim died holding tasks");
      for (const key of held) lostAtKill.add(key);
    }
    const survivor = spawnFixture("faultWorker", { ...worker, reapIntervalMs: 300, stopOnSignals: true });
    await eventually(
      async () => (await statesOf(db().pool, "crash"))["succeeded"] === tasks,
      30_000,
      "every task succeeded",
    );
    await eventually(() => succeeded.size === tasks, 5_000, "an outcome per task");
    survivor.child.kill("SIGTERM");
    assert.equal(await survivor.exited, 0);
    watching.unsubscribe();

    assert.deepEqual(await statesOf(db().pool, "crash"), { succeeded: tasks });
    assert.deepEqual(
      ids.filter((id) => succeeded.get(id) !== 1),
      [],
      "each task reported succeeded exactly once",
    );
    // Every attempt a dead worker held was recorded as lost, and nothing else.
    const { rows: lost } = await db().pool.query<{ key: string }>(
      "select task_id || '/' || attempt as key from underway.task_attempt where state = 'lost' order by 1",
    );
    assert.deepEqual(lost.map((row) => row.key).sort(), [...lostAtKill].sort());
    const { rows: others } = await db().pool.query(
      "select * from underway.task_attempt where state <> 'lost'",
    );
    assert.deepEqual(others, []);
    // The successful attempt ran to its end; a second run of a task happened only after a lost attempt.
    const { rows: unfinished } = await db().pool.query(
      `select t.id from underway.task_all t where not exists (
         select 1 from fault_run r where r.task_id = t.id and r.attempt = t.attempt and r.ended_at is not null)`,
    );
    assert.deepEqual(unfinished, []);
    const { rows: duplicated } = await db().pool.query<{ task_id: string; lost: number }>(
      `select r.task_id::text, (select count(*)::int from underway.task_attempt a
                                 where a.task_id = r.task_id and a.state = 'lost') as lost
         from fault_run r group by r.task_id having count(*) > 1`,
    );
    assert.deepEqual(
      duplicated.filter((row) => row.lost === 0),
      [],
    );
    summary("crash", {
      tasks,
      kills,
      "lost tasks": tasks - ((await statesOf(db().pool, "crash"))["succeeded"] ?? 0),
      "lost attempts": lost.length,
      "ran twice": duplicated.length,
    });
  });
});
