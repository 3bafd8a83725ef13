// ops.checkInputs, the deploy check, against a real PostgreSQL: the
// pending and running tasks whose stored inputs today's schemas refuse,
// found page by page over any backlog, without a lock, whatever the
// stored JSON and whatever the codecs do.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { ConfigError, defineJob, defineStepJob, type StandardSchemaV1 } from "../src/index.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const V1 = t.type({ userId: t.number });
const V2 = t.type({ userId: t.number, plan: t.string });
const Loose = t.intersection([V1, t.partial({ plan: t.string })]);

describe("ops.checkInputs", () => {
  const { db, connect } = useDatabase("check_inputs");

  it("lists the pending and running tasks a changed schema refuses, with the bad field, and passes a compatible one", async () => {
    const underway = await connect();
    const old = underway.job(defineJob({ queue: "signup", input: V1 }));
    const ids = await old.enqueueMany([1, 2, 3].map((userId) => ({ userId })));
    // One of them running in a worker, held there until the check is done.
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const worker = old.start(async ({ userId }) => (userId === 1 ? held : null), {
      concurrency: 1,
      prefetch: 0,
    });
    try {
      await eventually(async () => (await underway.ops.task(ids[0] ?? ""))?.state === "in_progress");
      const later = await old.enqueue({ userId: 4 }, { delayMs: 3_600_000 });
      const check = await underway.ops.checkInputs([defineJob({ queue: "signup", input: V2 })]);
      // Tasks 2 and 3 may have run meanwhile; the running one and the delayed one have not.
      const failing = check.failures.map((failure) => failure.id);
      assert.ok(failing.includes(ids[0] ?? ""), "the running task is checked");
      assert.ok(failing.includes(later), "a delayed pending task is checked");
      assert.equal(check.failed, check.checked);
      assert.deepEqual(check.queues, ["signup"]);
      const running = check.failures.find((failure) => failure.id === ids[0]);
      assert.equal(running?.state, "in_progress");
      assert.equal(running?.queue, "signup");
      assert.match(running?.error ?? "", /^plan: expected string, got undefined/);

      const compatible = await underway.ops.checkInputs([defineJob({ queue: "signup", input: Loose })]);
      assert.equal(compatible.failed, 0);
      assert.deepEqual(compatible.failures, []);
      assert.ok(compatible.checked >= 2);
    } finally {
      release();
      await worker.stop();
    }
  });

  it("walks a backlog larger than a page: every task read once, all failures counted, the first listed by id", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "paged", input: t.unknown }));
    const inputs = Array.from({ length: 1_234 }, (_, n) =>
      n % 100 === 7 || n === 1_233 ? { userId: "x" } : { userId: n },
    );
    const ids = await job.enqueueMany(inputs);
    const bad = ids.filter((_, n) => n % 100 === 7 || n === 1_233);
    const strict = defineJob({ queue: "paged", input: V1 });
    const check = await underway.ops.checkInputs([strict], { pageSize: 100, maxFailures: 5 });
    assert.equal(check.checked, 1_234);
    assert.equal(check.failed, bad.length);
    assert.deepEqual(
      check.failures.map((failure) => failure.id),
      bad.slice(0, 5),
    );
    // Pages cut by their bytes (1 byte: one task a page) read the same tasks.
    const tiny = await underway.ops.checkInputs([strict], {
      pageBytes: 1,
      pageSize: 10_000,
      maxFailures: 100,
    });
    assert.equal(tiny.checked, 1_234);
    assert.deepEqual(
      tiny.failures.map((failure) => failure.id),
      bad,
    );
  });

  it("reads each live task once while workers move tasks between pending and running under it", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "moving",
        input: V1,
        options: { retry: { maxAttempts: 1_000, initialIntervalMs: 1, maxIntervalMs: 5, jitter: 0 } },
      }),
    );
    const ids = await job.enqueueMany(Array.from({ length: 1_000 }, (_, userId) => ({ userId })));
    let attempts = 0;
    // Every attempt fails and retries at once: each task goes pending, running, pending…
    const worker = job.start(
      async () => {
        attempts++;
        throw new Error("again");
      },
      { concurrency: 8, prefetch: 0, pollIntervalMs: 10 },
    );
    try {
      await eventually(() => attempts > 200, 15_000, "tasks cycling");
      const before = attempts;
      // Small pages (100 reads) so the walk lasts while tasks move; how many
      // moved depends on the machine's speed, so the test asserts only that
      // some did (a CI run saw 78 attempts during 40 pages of 25).
      const check = await underway.ops.checkInputs([defineJob({ queue: "moving", input: V2 })], {
        pageSize: 10,
        maxFailures: 10_000,
      });
      const moved = attempts - before;
      const read = check.failures.map((failure) => failure.id);
      assert.equal(new Set(read).size, read.length, "no task read twice");
      assert.deepEqual([...read].sort(), [...ids].sort(), "every task read");
      assert.ok(moved >= 20, `tasks moved while it read (${moved} attempts during the walk)`);
    } finally {
      await worker.stop();
    }
  });

  it("reads hostile stored inputs (JSON null, arrays, a 3 MB string) and survives codecs that throw", async () => {
    const underway = await connect();
    const anything = underway.job(defineJob({ queue: "hostile", input: t.unknown }));
    const [nullId, arrayId, hugeId, fineId] = await anything.enqueueMany([
      null,
      [1, 2, 3],
      "x".repeat(3_000_000),
      { userId: 1 },
    ]);
    const check = await underway.ops.checkInputs([defineJob({ queue: "hostile", input: V1 })]);
    assert.equal(check.checked, 4);
    assert.deepEqual(
      check.failures.map((failure) => failure.id),
      [nullId, arrayId, hugeId],
    );
    assert.match(check.failures[0]?.error ?? "", /\(root\): expected .*got null/);
    // The huge value is echoed as a bounded preview, never whole.
    assert.ok((check.failures[2]?.error.length ?? 0) < 1_100, "error text bounded");
    assert.ok(fineId !== undefined);

    // An io-ts codec whose validate throws, and a Standard Schema that throws.
    const throwing = new t.Type<{ userId: number }, { userId: number }, unknown>(
      "Throwing",
      (_value): _value is { userId: number } => false,
      () => {
        throw new Error("codec exploded");
      },
      (value) => value,
    );
    const standard: StandardSchemaV1<unknown, unknown> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: () => {
          throw new TypeError("schema exploded");
        },
      },
    };
    const threw = await underway.ops.checkInputs([defineJob({ queue: "hostile", input: throwing })]);
    assert.equal(threw.failed, 4);
    assert.match(threw.failures[0]?.error ?? "", /the input schema threw: Error: codec exploded/);
    const standardThrew = await underway.ops.checkInputs([defineJob({ queue: "hostile", input: standard })]);
    assert.equal(standardThrew.failed, 4);
    assert.match(standardThrew.failures[0]?.error ?? "", /schema exploded/);
  });

  it("a queue named by two definitions: a task fails if either schema refuses it; later steps are skipped, not decoded", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "shared", input: t.unknown }));
    const [both, onlyOld] = await job.enqueueMany([{ userId: 1, plan: "pro" }, { userId: 2 }]);
    const a = defineJob({ queue: "shared", input: V1 });
    const b = defineJob({ queue: "shared", input: V2 });
    const check = await underway.ops.checkInputs([a, b, a]);
    assert.deepEqual(check.queues, ["shared"]);
    assert.equal(check.checked, 2);
    assert.deepEqual(
      check.failures.map((failure) => failure.id),
      [onlyOld],
    );
    assert.ok(both !== undefined);

    // A multi-step job: its first step's tasks decode with its input schema;
    // a later step's input is the step before's value, which no schema reads.
    const steps = underway.job(defineStepJob({ queue: "steps_check", input: V1 }));
    const [jobId, laterJobId] = await steps.enqueueMany([{ userId: 1 }, { userId: 2 }]);
    // The second run at its second step, as its first step's completion would leave it.
    await db().pool.query(
      `update underway.task set step_index = 1, input = '{"anything": true}' where job_id = $1`,
      [laterJobId],
    );
    const first = (await underway.ops.tasks({ jobId: jobId ?? "" })).tasks[0]?.id;
    const stepCheck = await underway.ops.checkInputs([defineStepJob({ queue: "steps_check", input: V2 })]);
    assert.equal(stepCheck.checked, 1);
    assert.equal(stepCheck.skipped, 1);
    assert.deepEqual(
      stepCheck.failures.map((failure) => [failure.id, failure.stepIndex]),
      [[first, 0]],
    );
  });

  it("takes no lock: it completes while another session holds the task table in EXCLUSIVE mode", async () => {
    const underway = await connect();
    await underway.job(defineJob({ queue: "locked", input: V1 })).enqueue({ userId: 1 });
    const holder = await db().pool.connect();
    try {
      await holder.query("begin");
      await holder.query("lock table underway.task in exclusive mode");
      await holder.query("select id from underway.task for update");
      const check = await Promise.race([
        underway.ops.checkInputs([defineJob({ queue: "locked", input: V2 })]),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("checkInputs waited on a lock")), 10_000),
        ),
      ]);
      assert.equal(check.failed, 1);
    } finally {
      await holder.query("rollback");
      holder.release();
    }
  });

  it("rejects option typos, bad values and things that are not definitions, naming them", async () => {
    const underway = await connect();
    const ok = defineJob({ queue: "opts", input: V1 });
    await assert.rejects(
      underway.ops.checkInputs([ok], { pagesize: 10 } as never),
      (error: unknown) =>
        error instanceof ConfigError && /pagesize/.test(error.message) && /pageSize/.test(error.message),
    );
    await assert.rejects(
      underway.ops.checkInputs([ok], { pageSize: 0 }),
      (error: unknown) => error instanceof ConfigError && /pageSize/.test(error.message),
    );
    await assert.rejects(
      underway.ops.checkInputs([ok, { queue: "opts" }] as never),
      (error: unknown) =>
        error instanceof ConfigError && /definitions\[1\] is not a job definition/.test(error.message),
    );
    const trap = new Proxy(
      {},
      {
        get: () => {
          throw new Error("trap");
        },
      },
    );
    await assert.rejects(
      underway.ops.checkInputs([trap] as never),
      (error: unknown) =>
        error instanceof ConfigError && /definitions\[0\] is not a job definition/.test(error.message),
    );
    await assert.rejects(
      underway.ops.checkInputs(ok as never),
      (error: unknown) => error instanceof ConfigError && /must be an array/.test(error.message),
    );
  });
});
