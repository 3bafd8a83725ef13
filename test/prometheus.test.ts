// Prometheus metrics scraped over real HTTP from a process running a real
// worker: the counters and histograms move with what the worker does, and
// the gauges read the database at scrape time.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { Registry } from "prom-client";
import {
  ConfigError,
  FatalError,
  QueueFullError,
  defineJob,
  prometheusMetrics,
  redrive,
  schedule,
  snooze,
} from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const Input = t.type({ kind: t.string });

/** The value of one sample line (`name{labels} value`), or undefined. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
};

describe("prometheus metrics", () => {
  const { db, connect } = useDatabase("prometheus");

  it("a scrape of a running worker: counters, histograms and database gauges moved", async () => {
    const underway = await connect();
    const metrics = await prometheusMetrics(underway);
    const server = createServer((request, response) => {
      if (request.url === "/metrics") return metrics.handler(request, response);
      response.statusCode = 404;
      response.end();
    });
    const url = await listen(server);
    const scrape = async () => {
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      return response.text();
    };
    const job = underway.job(
      defineJob({
        queue: "pm",
        dlq: "pm_dlq",
        input: Input,
        options: { retry: { maxAttempts: 3, initialIntervalMs: 10, jitter: 0 } },
      }),
    );
    const idle = underway.job(defineJob({ queue: "pm_idle", input: Input }));
    const stuck = underway.job(defineJob({ queue: "pm_stuck", input: Input }));
    try {
      const before = await scrape();
      assert.equal(sample(before, 'underway_tasks_completed_total{queue="pm"}'), undefined, "nothing yet");

      // Due in the past: the oldest pending age is at least that.
      await idle.enqueueMany([{ kind: "a" }, { kind: "b" }]);
      await db().pool.query(
        "update underway.task set run_at = now() - interval '90 seconds' where queue_name = 'pm_idle'",
      );
      // A task whose worker died: its lease expired a minute ago.
      const lost = await stuck.enqueue({ kind: "lost" });
      await db().pool.query(
        `update underway.task set state = 'in_progress', attempt = 1, started_at = now() - interval '2 minutes',
                lease_expires_at = now() - interval '1 minute', worker_id = 'gone' where id = $1`,
        [lost],
      );
      await schedule(job, "0 0 * * * *[UTC]", { kind: "scheduled" });

      const seen = new Set<string>();
      const worker = job.start(
        async ({ kind }, { taskId }) => {
          if (kind === "fatal") throw new FatalError("bad input");
          if (kind === "flaky" && !seen.has(taskId)) {
            seen.add(taskId);
            throw new Error("flaky");
          }
          await new Promise((done) => setTimeout(done, 20));
          return null;
        },
        { reapIntervalMs: 100 },
      );
      try {
        const ok = await job.enqueueMany([{ kind: "ok" }, { kind: "ok" }, { kind: "ok" }]);
        const flaky = await job.enqueue({ kind: "flaky" });
        const fatal = await job.enqueue({ kind: "fatal" });
        await Promise.all([...ok, flaky].map((id) => job.result(id)));
        await assert.rejects(job.result(fatal));
        // Paused first: the redriven task must not run (and fail again) before the scrape.
        await underway.pauseQueue("pm");
        assert.deepEqual(await redrive(underway, "pm_dlq"), [fatal]);
        await eventually(
          async () =>
            (
              await db().pool.query("select 1 from underway.task_all where id = $1 and state = 'pending'", [
                lost,
              ])
            ).rowCount === 1,
          5_000,
          "the reaper",
        );

        const text = await scrape();
        const value = (series: string) => sample(text, series);
        assert.equal(value('underway_tasks_enqueued_total{queue="pm"}'), 5);
        assert.equal(value('underway_tasks_enqueued_total{queue="pm_idle"}'), 2);
        assert.equal(value('underway_tasks_completed_total{queue="pm"}'), 4);
        assert.equal(value('underway_tasks_retried_total{queue="pm"}'), 1);
        assert.equal(value('underway_tasks_failed_total{queue="pm"}'), 1);
        assert.equal(value('underway_tasks_dead_lettered_total{queue="pm"}'), 1);
        assert.equal(value('underway_tasks_redriven_total{queue="pm_dlq"}'), 1);
        assert.equal(value('underway_leases_expired_total{queue="pm_stuck"}'), 1);
        assert.equal(value('underway_task_duration_seconds_count{queue="pm",outcome="succeeded"}'), 4);
        assert.equal(value('underway_task_duration_seconds_count{queue="pm",outcome="retrying"}'), 1);
        assert.ok((value('underway_task_duration_seconds_sum{queue="pm",outcome="succeeded"}') ?? 0) >= 0.08);
        // Seconds, not milliseconds: four 20 ms runs are well under a second each.
        assert.equal(
          value('underway_task_duration_seconds_bucket{le="1",queue="pm",outcome="succeeded"}'),
          4,
        );
        assert.ok((value('underway_task_wait_seconds_count{queue="pm"}') ?? 0) >= 6);
        assert.ok((value('underway_claim_duration_seconds_count{queue="pm"}') ?? 0) >= 1);
        // Gauges, read from the database at this scrape.
        assert.equal(value('underway_tasks{queue="pm_idle",state="pending"}'), 2);
        assert.equal(value('underway_tasks{queue="pm",state="succeeded"}'), 4);
        assert.equal(value('underway_tasks{queue="pm",state="pending"}'), 1, "the redriven task");
        assert.ok((value('underway_queue_oldest_pending_age_seconds{queue="pm_idle"}') ?? 0) >= 89);
        const heartbeatAge = value('underway_worker_heartbeat_age_seconds{queue="pm"}');
        assert.ok(
          heartbeatAge !== undefined && heartbeatAge >= 0 && heartbeatAge < 60,
          `age ${heartbeatAge}`,
        );
        const nextRun = value('underway_schedule_next_run_timestamp_seconds{queue="pm"}') ?? 0;
        assert.ok(nextRun > Date.now() / 1000 && nextRun <= Date.now() / 1000 + 3_600, `next run ${nextRun}`);
        assert.match(text, /# TYPE underway_tasks_completed_total counter/);
        assert.match(text, /# TYPE underway_task_duration_seconds histogram/);
        assert.match(text, /# TYPE underway_tasks gauge/);
        // Labels are queue, state and outcome (and a histogram's le): never an id.
        const labelNames = new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((match) => match[1]));
        assert.deepEqual([...labelNames].sort(), ["le", "outcome", "queue", "state"]);
      } finally {
        await worker.stop();
      }

      // The Fetch-style handler serves the same text.
      const response = await metrics.fetchHandler();
      assert.equal(response.status, 200);
      assert.equal(sample(await response.text(), 'underway_tasks_completed_total{queue="pm"}'), 4);
    } finally {
      metrics.stop();
      server.close();
    }
  });

  it("registers in a given registry with a prefix; stop() unregisters; bad prefixes are refused", async () => {
    const underway = await connect();
    const registry = new Registry();
    const metrics = await prometheusMetrics(underway, { registry, prefix: "jobs_", queueStats: false });
    assert.equal(metrics.registry, registry);
    const job = underway.job(defineJob({ queue: "pm_prefixed", input: Input }));
    await job.enqueue({ kind: "x" });
    const text = await registry.metrics();
    assert.equal(sample(text, 'jobs_tasks_enqueued_total{queue="pm_prefixed"}'), 1);
    assert.ok(!text.includes("jobs_tasks{"), "no database gauges when queueStats is false");
    metrics.stop();
    assert.equal(await registry.metrics(), "\n");
    await assert.rejects(prometheusMetrics(underway, { prefix: "bad prefix" }), ConfigError);
  });
  it("flow control: a rate-limited queue's limit, window and budget in use; a queue's groups; none for plain queues; snoozes counted", async () => {
    const underway = await connect();
    const metrics = await prometheusMetrics(underway);
    const limited = underway.job(
      defineJob({ queue: "pm_rated", input: Input, rateLimit: { limit: 3, periodMs: 60_000 } }),
    );
    const grouped = underway.job(defineJob({ queue: "pm_grouped", input: Input }));
    const plain = underway.job(defineJob({ queue: "pm_plain", input: Input }));
    try {
      // Two tasks of key k and five of the queue's own budget: two and three start, the rest wait a minute.
      await limited.enqueueMany([{ kind: "keyed" }, { kind: "keyed" }], { rateLimitKey: "k" });
      await limited.enqueueMany(Array.from({ length: 5 }, () => ({ kind: "own" })));
      for (const group of ["a", "b", "c"]) await grouped.enqueue({ kind: "x" }, { group });
      await plain.enqueue({ kind: "x" });
      const result = await limited.drain(async () => null);
      assert.equal(result.succeeded, 5, "two of k's budget, three of the queue's");
      // A snooze is counted, and timed as an attempt that ended "snoozed".
      await plain.drain(async () => snooze(60_000));
      const text = await metrics.text();
      const value = (series: string) => sample(text, series);
      assert.equal(value('underway_queue_rate_limit_starts{queue="pm_rated"}'), 3);
      assert.equal(value('underway_queue_rate_limit_period_seconds{queue="pm_rated"}'), 60);
      assert.equal(value('underway_queue_rate_budget_used{queue="pm_rated"}'), 3);
      assert.equal(value('underway_queue_rate_budget_active_keys{queue="pm_rated"}'), 1);
      assert.equal(value('underway_queue_groups{queue="pm_grouped"}'), 3);
      for (const queue of ["pm_plain", "pm_grouped"])
        assert.equal(value(`underway_queue_rate_limit_starts{queue="${queue}"}`), undefined, queue);
      for (const queue of ["pm_plain", "pm_rated"])
        assert.equal(value(`underway_queue_groups{queue="${queue}"}`), undefined, queue);
      assert.match(text, /# TYPE underway_queue_rate_budget_used gauge/);
      assert.equal(value('underway_tasks_snoozed_total{queue="pm_plain"}'), 1);
      assert.equal(value('underway_task_duration_seconds_count{queue="pm_plain",outcome="snoozed"}'), 1);
      // Enqueues a full queue turns away are counted by the tasks they would have added; none for other failures.
      const capped = underway.job(defineJob({ queue: "pm_capped", input: Input, maxPending: 1 }));
      await capped.enqueue({ kind: "x" });
      await assert.rejects(capped.enqueueMany([{ kind: "x" }, { kind: "x" }]), QueueFullError);
      await assert.rejects(capped.enqueue({ kind: "x" }), QueueFullError);
      await assert.rejects(capped.enqueue({ kind: 1 } as never), /kind/);
      const after = await metrics.text();
      assert.equal(sample(after, 'underway_tasks_enqueue_rejected_total{queue="pm_capped"}'), 3);
      assert.equal(sample(after, 'underway_tasks_enqueued_total{queue="pm_capped"}'), 1);
      assert.equal(sample(after, 'underway_tasks_enqueue_rejected_total{queue="pm_plain"}'), undefined);
    } finally {
      metrics.stop();
    }
  });
});
