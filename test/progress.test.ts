// Progress and per-task logs (issue 22, parts 3 and 4): ctx.progress is
// paced (a tight loop writes a bounded number of times, the latest value
// stored), streamed to progress$ in another process, shown by ops; ctx.log
// is bounded per attempt with a count of what was cut, written in batches;
// both go with their task (retention, ops delete), and hostile values fail
// with a clear error without losing the rest.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  defineJob,
  defineStepJob,
  done,
  next,
  serveDashboard,
  snooze,
  Steps,
  sweepExpired,
  type JsonValue,
  type Logger,
  type TaskContext,
} from "../src/index.ts";
import { runCli } from "../src/cli/runCli.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });

const recordingLogger = (lines: string[]): Logger => ({
  info: () => undefined,
  warn: (message: string) => void lines.push(message),
  error: (message: string) => void lines.push(message),
});

describe("progress and per-task logs", () => {
  const { db, connect } = useDatabase("progress");

  // Counts every row written to the two tables, by statement for logs: a
  // test-only trigger, so the pacing is measured in the database itself.
  const countWrites = async () => {
    await db().pool.query(`
      create table if not exists public.report_writes (what text, rows int);
      create or replace function public.count_progress() returns trigger language plpgsql as $$
      begin insert into public.report_writes values ('progress', 1); return null; end $$;
      create or replace function public.count_logs() returns trigger language plpgsql as $$
      begin insert into public.report_writes select 'logs', count(*) from appended; return null; end $$;
      drop trigger if exists count_progress on underway.task_progress;
      create trigger count_progress after insert or update on underway.task_progress
        for each row execute function public.count_progress();
      drop trigger if exists count_logs on underway.task_log;
      create trigger count_logs after insert on underway.task_log referencing new table as appended
        for each statement execute function public.count_logs();
      truncate public.report_writes;`);
    return async () => {
      const { rows } = await db().pool.query<{ what: string; statements: number; rows: number }>(
        "select what, count(*)::int as statements, sum(rows)::int as rows from public.report_writes group by what",
      );
      return Object.fromEntries(rows.map((row) => [row.what, row]));
    };
  };

  it("a tight loop of 100,000 progress calls writes a bounded number of times, and the latest value is stored", async () => {
    const underway = await connect();
    const writes = await countWrites();
    const job = underway.job(defineJob({ queue: "progress_tight", input: N, progressIntervalMs: 100 }));
    const worker = job.start(
      async ({ n }, ctx: TaskContext) => {
        for (let i = 1; i <= n; i += 1) ctx.progress({ done: i, total: n });
        // Then a slower phase of 500 ms: about five more writes at most.
        for (let i = 0; i < 10; i += 1) {
          await new Promise((done) => setTimeout(done, 50));
          ctx.progress({ phase: "second", step: i });
        }
        ctx.progress({ done: n, total: n, finished: true });
        return null;
      },
      { pollIntervalMs: 50 },
    );
    try {
      const id = await job.enqueue({ n: 100_000 });
      await job.result(id);
      const written = await writes();
      const count = written["progress"]?.rows ?? 0;
      assert.ok(count >= 2 && count <= 10, `progress rows written: ${count}, want 2-10 for 100,010 calls`);
      const detail = await underway.ops.task(id);
      assert.deepEqual(detail?.progress?.value, { done: 100_000, total: 100_000, finished: true });
      assert.equal(detail?.progress?.attempt, 1);
    } finally {
      await worker.stop();
    }
  });

  it("a subscriber in another process sees the progress, the last value before the outcome", async () => {
    const underway = await connect();
    const queue = "progress_cross";
    const job = underway.job(defineJob({ queue, input: N, progressIntervalMs: 50 }));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "test/fixtures/watchProgress.ts", db().url, queue],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const lines: Array<Record<string, unknown>> = [];
    let buffer = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      for (const part of parts)
        if (part.trim() !== "") lines.push(JSON.parse(part) as Record<string, unknown>);
    });
    const exited = new Promise<number | null>((done) => child.on("exit", done));
    await eventually(() => lines.some((line) => line["ready"] === true), 20_000, "watcher ready");
    const worker = job.start(
      async ({ n }, ctx: TaskContext) => {
        for (let i = 1; i <= n; i += 1) {
          ctx.progress({ percent: (i * 100) / n });
          await new Promise((done) => setTimeout(done, 20));
        }
        return null;
      },
      { pollIntervalMs: 50 },
    );
    try {
      const id = await job.enqueue({ n: 20 });
      assert.equal(await exited, 0);
      const seen = lines.flatMap((line) =>
        line["progress"] === undefined
          ? []
          : [line["progress"] as { taskId: string; value: JsonValue; attempt: number }],
      );
      assert.ok(seen.length >= 2, `values seen in the other process: ${seen.length}`);
      assert.ok(seen.length <= 20, `at most one a call: ${seen.length}`);
      assert.ok(seen.every((progress) => progress.taskId === id && progress.attempt === 1));
      assert.deepEqual(seen[seen.length - 1]?.value, { percent: 100 });
      assert.equal(lines[lines.length - 1]?.["outcome"], "succeeded");
    } finally {
      await worker.stop();
    }
  });

  it("a value too large for NOTIFY reaches the other subscriber through its row", async () => {
    const underway = await connect();
    const other = await connect();
    const job = underway.job(defineJob({ queue: "progress_large", input: N }));
    const seen: JsonValue[] = [];
    const watched = other.job(defineJob({ queue: "progress_large", input: N })).progress$.subscribe((p) => {
      seen.push(p.value);
    });
    await other.listening();
    const big = { text: "x".repeat(20_000) };
    const worker = job.start(async (_input, ctx: TaskContext) => {
      ctx.progress(big);
      return null;
    });
    try {
      await job.result(await job.enqueue({ n: 1 }));
      await eventually(() => seen.length > 0, 10_000, "the large value");
      assert.deepEqual(seen[0], big);
    } finally {
      watched.unsubscribe();
      await worker.stop();
    }
  });

  it("logs keep the attempt's last maxLogLines lines, count what was cut, and are written in batches", async () => {
    const underway = await connect();
    const writes = await countWrites();
    const job = underway.job(
      defineJob({
        queue: "logs_bounded",
        input: N,
        maxLogLines: 1_000,
        maxLogLineLength: 100,
        progressIntervalMs: 100,
      }),
    );
    const worker = job.start(
      async ({ n }, ctx: TaskContext) => {
        for (let i = 1; i <= n; i += 1) ctx.log(`line ${i}`);
        await new Promise((done) => setTimeout(done, 150));
        ctx.log("x".repeat(5_000));
        ctx.log("after a pause");
        return null;
      },
      { pollIntervalMs: 50 },
    );
    try {
      const id = await job.enqueue({ n: 2_500 });
      await job.result(id);
      const logs = await underway.ops.taskLogs(id);
      assert.equal(logs.length, 1);
      const [log] = logs;
      assert.equal(log?.attempt, 1);
      assert.equal(log?.lines.length, 1_000);
      assert.equal(log?.cut, 1_502);
      assert.equal(log?.lines[0]?.message, "line 1503");
      assert.equal(log?.lines[0]?.seq, 1_503);
      assert.equal(log?.lines[999]?.message, "after a pause");
      const long = log?.lines[998]?.message ?? "";
      assert.ok(long.length <= 100 && long.includes("more characters cut"), long);
      const written = await writes();
      assert.ok((written["logs"]?.statements ?? 0) <= 4, `log statements: ${written["logs"]?.statements}`);
      assert.ok((written["logs"]?.rows ?? 0) <= 2_002, `log rows inserted: ${written["logs"]?.rows}`);
      assert.equal((await underway.ops.task(id))?.logLines, 1_000);
    } finally {
      await worker.stop();
    }
  });

  it("each attempt keeps its own log and the progress of the attempt that wrote last", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "logs_attempts",
        input: N,
        options: { retry: { maxAttempts: 2, initialIntervalMs: 10 } },
      }),
    );
    const worker = job.start(
      async (_input, ctx: TaskContext) => {
        ctx.log(`attempt ${ctx.attempt} starts`);
        ctx.progress({ attempt: ctx.attempt });
        if (ctx.attempt === 1) throw new Error("first fails");
        return null;
      },
      { pollIntervalMs: 20 },
    );
    try {
      const id = await job.enqueue({ n: 1 });
      await job.result(id);
      const logs = await underway.ops.taskLogs(id);
      assert.deepEqual(
        logs.map((log) => [log.attempt, log.cut, log.lines.map((line) => line.message)]),
        [
          [1, 0, ["attempt 1 starts"]],
          [2, 0, ["attempt 2 starts"]],
        ],
      );
      assert.deepEqual((await underway.ops.taskLogs(id, { attempt: 2 })).length, 1);
      assert.deepEqual((await underway.ops.task(id))?.progress?.value, { attempt: 2 });
      await assert.rejects(underway.ops.taskLogs(id, { attempt: 0 }), /attempt must be an integer/);
    } finally {
      await worker.stop();
    }
  });

  it("a snoozed attempt's next run appends to its log, within maxLogLines, nothing lost", async () => {
    const lines: string[] = [];
    const underway = await connect({ logger: recordingLogger(lines) });
    const job = underway.job(
      defineJob({ queue: "logs_snoozed", input: N, maxLogLines: 3, progressIntervalMs: 10 }),
    );
    let runs = 0;
    const worker = job.start(
      async (_input, ctx: TaskContext) => {
        runs += 1;
        // The same attempt number runs twice: a snooze spends no attempt.
        for (let line = 1; line <= (runs === 1 ? 5 : 2); line += 1) ctx.log(`run ${runs} line ${line}`);
        if (runs === 1) return snooze(10);
        return null;
      },
      { pollIntervalMs: 20 },
    );
    try {
      const id = await job.enqueue({ n: 1 });
      await job.result(id);
      assert.equal(runs, 2);
      const logs = await underway.ops.taskLogs(id);
      assert.deepEqual(
        logs.map((log) => [log.attempt, log.cut, log.lines.map((line) => [line.seq, line.message])]),
        [
          [
            1,
            4,
            [
              [5, "run 1 line 5"],
              [6, "run 2 line 1"],
              [7, "run 2 line 2"],
            ],
          ],
        ],
      );
      assert.deepEqual(lines, [], "no write failed");
    } finally {
      await worker.stop();
    }
  });

  it("retention and ops delete remove a task's progress and log lines with it", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "reports_retention", input: N }));
    const worker = job.start(
      async ({ n }, ctx: TaskContext) => {
        ctx.progress(n);
        ctx.log(`task ${n}`);
        return null;
      },
      { pollIntervalMs: 20 },
    );
    const countOf = async (ids: string[]) => {
      const { rows } = await db().pool.query<{ progress: number; logs: number }>(
        `select (select count(*) from underway.task_progress where task_id = any($1::bigint[]))::int as progress,
                (select count(*) from underway.task_log where task_id = any($1::bigint[]))::int as logs`,
        [ids],
      );
      return rows[0];
    };
    try {
      const expiring = [await job.enqueue({ n: 1 }, { ttlMs: 1 }), await job.enqueue({ n: 2 }, { ttlMs: 1 })];
      const kept = await job.enqueue({ n: 3 });
      const deleted = await job.enqueue({ n: 4 });
      for (const id of [...expiring, kept, deleted]) await job.result(id);
      assert.deepEqual(await countOf([...expiring, kept, deleted]), { progress: 4, logs: 4 });
      await new Promise((done) => setTimeout(done, 20));
      assert.ok((await sweepExpired(underway)) >= 2);
      assert.deepEqual(await countOf(expiring), { progress: 0, logs: 0 });
      assert.deepEqual(await countOf([kept]), { progress: 1, logs: 1 });
      await underway.ops.delete({ ids: [deleted] });
      assert.deepEqual(await countOf([deleted]), { progress: 0, logs: 0 });
      assert.deepEqual(await countOf([kept]), { progress: 1, logs: 1 });
    } finally {
      await worker.stop();
    }
  });

  it("hostile values: non-JSON and huge progress throw clear errors, NUL in lines is stored, the rest is kept", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "reports_hostile", input: N }));
    const errors: string[] = [];
    const attempt = (call: () => void) => {
      try {
        call();
      } catch (error) {
        errors.push(`${(error as Error).name}: ${(error as Error).message}`);
      }
    };
    const cycle: Record<string, unknown> = {};
    cycle["self"] = cycle;
    const worker = job.start(
      async (_input, ctx: TaskContext) => {
        ctx.progress({ ok: 1 });
        attempt(() => ctx.progress({ count: 10n } as unknown as JsonValue));
        attempt(() => ctx.progress(cycle as JsonValue));
        attempt(() => ctx.progress({ name: "a\u0000b" }));
        attempt(() => ctx.progress(undefined as unknown as JsonValue));
        attempt(() => ctx.progress({ huge: "y".repeat(100_000) }));
        // 30,000 characters, 90,000 bytes as stored: the limit is in bytes.
        attempt(() => ctx.progress({ wide: "語".repeat(30_000) }));
        attempt(() => ctx.log(42 as unknown as string));
        ctx.log("nul \u0000 inside, lone \ud800 surrogate");
        ctx.log("");
        return null;
      },
      { pollIntervalMs: 20 },
    );
    try {
      const id = await job.enqueue({ n: 1 });
      await job.result(id);
      assert.deepEqual(errors, [
        "TypeError: ctx.progress: the value cannot be stored as JSON: at count: a bigint is not JSON (encode it as a string)",
        "TypeError: ctx.progress: the value cannot be stored as JSON: at self: is a circular reference",
        "TypeError: ctx.progress: the value cannot be stored as JSON: at name: contains a NUL character (\\u0000), which jsonb cannot store",
        "TypeError: ctx.progress: the value cannot be stored as JSON: undefined is not JSON",
        "RangeError: ctx.progress: the value is 100011 bytes of JSON, over the 65536 allowed; report a summary (a count, a percentage), not the data",
        "RangeError: ctx.progress: the value is 90011 bytes of JSON, over the 65536 allowed; report a summary (a count, a percentage), not the data",
        "TypeError: ctx.log: a message must be a string, got number",
      ]);
      assert.deepEqual((await underway.ops.task(id))?.progress?.value, { ok: 1 });
      const [log] = await underway.ops.taskLogs(id);
      assert.deepEqual(
        log?.lines.map((line) => line.message),
        ["nul \uFFFD inside, lone \uFFFD surrogate", ""],
      );
    } finally {
      await worker.stop();
    }
  });

  it("calls after the attempt ended are ignored and logged once: nothing is written, nothing crashes", async () => {
    const warnings: string[] = [];
    const underway = await connect({ logger: recordingLogger(warnings) });
    const job = underway.job(defineJob({ queue: "reports_late", input: N }));
    let late: TaskContext | undefined;
    const worker = job.start(
      async (_input, ctx: TaskContext) => {
        ctx.progress("last");
        late = ctx;
        return null;
      },
      { pollIntervalMs: 20 },
    );
    const unused = job;
    try {
      const id = await unused.enqueue({ n: 1 });
      await job.result(id);
      late?.progress("too late");
      late?.log("too late");
      late?.progress("again");
      await new Promise((done) => setTimeout(done, 100));
      assert.deepEqual((await underway.ops.task(id))?.progress?.value, "last");
      assert.deepEqual(await underway.ops.taskLogs(id), []);
      assert.equal(warnings.filter((line) => line.includes("after the attempt ended")).length, 1);
    } finally {
      await worker.stop();
    }
  });

  it("a handler that never reports writes nothing to either table", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "reports_none", input: N }));
    const worker = job.start(async () => null, { pollIntervalMs: 20 });
    try {
      const ids = await job.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
      for (const id of ids) await job.result(id);
      const { rows } = await db().pool.query<{ n: number }>(
        `select ((select count(*) from underway.task_progress where task_id = any($1::bigint[])) +
                 (select count(*) from underway.task_log where task_id = any($1::bigint[])))::int as n`,
        [ids],
      );
      assert.equal(rows[0]?.n, 0);
      const detail = await underway.ops.task(ids[0] ?? "");
      assert.equal(detail?.progress, null);
      assert.equal(detail?.logLines, 0);
    } finally {
      await worker.stop();
    }
  });

  it("the CLI (tasks show, tasks logs) and the dashboard's task and job pages show progress and logs", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "reports_shown", input: N, maxLogLines: 2 }));
    const worker = job.start(
      async (_input, ctx: TaskContext) => {
        ctx.progress({ percent: 42 });
        for (const line of ["one", "two <b>bold</b>", "three \u0000 nul"]) ctx.log(line);
        return null;
      },
      { pollIntervalMs: 20 },
    );
    const stepDefinition = defineStepJob({ queue: "reports_shown_steps", input: N });
    const steps = underway.job(stepDefinition);
    const stepWorker = steps.start(
      Steps.of(stepDefinition)
        .step(async ({ n }, ctx: TaskContext) => {
          ctx.progress({ step: "first", n });
          return next({ m: n });
        })
        .step(async () => done(null)),
      { pollIntervalMs: 20 },
    );
    const dashboard = await serveDashboard(underway, {});
    try {
      const id = await job.enqueue({ n: 1 });
      await job.result(id);
      let printed = "";
      const io = { out: (text: string) => (printed += text), err: (text: string) => (printed += text) };
      assert.equal(await runCli(["tasks", "show", id], io, { DATABASE_URL: db().url }), 0, printed);
      assert.match(printed, /progress \(attempt 1, .*\):\n\{\n {2}"percent": 42\n\}/);
      assert.match(
        printed,
        /logs:\n {2}attempt 1 \(1 older lines cut\)\n.*two <b>bold<\/b>\n.*three \uFFFD nul\n/,
      );
      printed = "";
      assert.equal(await runCli(["tasks", "logs", id, "--json"], io, { DATABASE_URL: db().url }), 0, printed);
      const logs = JSON.parse(printed) as Array<{
        attempt: number;
        cut: number;
        lines: Array<{ message: string }>;
      }>;
      assert.deepEqual(
        logs.map((log) => [log.attempt, log.cut, log.lines.map((line) => line.message)]),
        [[1, 1, ["two <b>bold</b>", "three \uFFFD nul"]]],
      );
      printed = "";
      assert.equal(await runCli(["tasks", "logs", "999999"], io, { DATABASE_URL: db().url }), 1, printed);
      assert.match(printed, /no task 999999/);

      const taskHtml = await (await fetch(new URL(`tasks/${id}`, dashboard.url))).text();
      assert.match(taskHtml, /<h2>Progress<\/h2>/);
      assert.match(taskHtml, /&quot;percent&quot;: 42|"percent": 42/);
      assert.match(taskHtml, /Attempt 1: 2 lines, 1 older cut/);
      assert.match(taskHtml, /two &lt;b&gt;bold&lt;\/b&gt;/);

      const jobId = await steps.enqueue({ n: 7 });
      await steps.result(jobId);
      const jobHtml = await (await fetch(new URL(`jobs/${jobId}`, dashboard.url))).text();
      assert.match(jobHtml, /<li data-step="0"[\s\S]*class="task-progress"[^>]*>[^<]*first[^<]*<\/pre>/);
    } finally {
      await dashboard.close();
      await worker.stop();
      await stepWorker.stop();
    }
  });
});
