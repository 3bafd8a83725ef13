import { checkQueueName } from "../identifier.ts";
import { checkOptionShape } from "../optionShape.ts";
import { storableRange, storableTime } from "./storableTime.ts";
import { ConfigError, messageOf, orThrow } from "../errors.ts";
import { nextTick, scheduleSpecOf, type ScheduleSpec } from "../schedule/schedule.ts";
import type { OpsDeps } from "../client/clientDeps.ts";
import { bulkCancel, bulkDelete, bulkRedrive, bulkRetry } from "./bulk.ts";
import { queueStats } from "./queueStats.ts";
import type { TaskDefinition } from "../definition.ts";
import { taskDetail } from "./taskDetail.ts";
import { batchInfo, jobFanOuts, type BatchInfo, type JobFanOut } from "./batchInfo.ts";
import { taskLogs, type TaskLogsOptions } from "./taskLogs.ts";
import { explainTask } from "./explain.ts";
import { checkInputs } from "./checkInputs.ts";
import { typedTaskDetail } from "./typedTaskDetail.ts";
import { setPaused } from "./setPaused.ts";
import { queueGroups, setGroupWeight } from "./groups.ts";
import { changeMaxPending, maxPendingInfo } from "./maxPending.ts";
import { changeRateLimit, rateLimitInfo } from "./rateLimits.ts";
import type { RateLimit } from "../definition.ts";
import { taskPage } from "./taskPage.ts";
import { workerDeadAfterSeconds } from "./workerRegistry.ts";
import type {
  CheckedDefinition,
  CheckInputsOptions,
  InputCheck,
  BulkOptions,
  BulkResult,
  GroupStats,
  ListOptions,
  QueueStats,
  MaxPendingInfo,
  RateLimitInfo,
  ScheduleInfo,
  TaskDetail,
  TaskExplanation,
  TypedTaskDetail,
  TaskFilter,
  TaskPage,
  ThroughputBucket,
  WorkerInfo,
  AttemptLog,
} from "./types.ts";

/**
 * The inspection and admin API, for operators, the CLI and the dashboard:
 * lists, counts, throughput, one task in full, bulk retry, cancel, delete
 * and redrive by filter, pause, rate limits, schedules and the worker registry. Get it
 * from `underway.ops`. Untyped on purpose: it reads any queue's tasks as
 * stored JSON, with no codec. Bad ids and filters reject with a
 * `ValidationError`, bad options with a `ConfigError`, before anything is
 * read or written. See docs/operations.md.
 *
 * @example
 * const failed = await underway.ops.tasks({ queue: "email", state: "failed" }, { limit: 20 });
 * const preview = await underway.ops.retry({ queue: "email", errorLike: "smtp" }, { dryRun: true });
 * if (preview.matched < 1_000) await underway.ops.retry({ queue: "email", errorLike: "smtp" });
 */
export class Ops {
  /** @internal Made by `underway.ops`. */
  constructor(private readonly deps: OpsDeps) {}

  /**
   * Every queue (registered, or holding tasks) with its tasks per state,
   * pause and the age of its oldest due pending task. Counts are exact while
   * small (at most 1,000 per state); above that they are the planner's
   * estimates, marked `approximate: true`, so the call stays fast on any
   * table size (no `count(*)` scan).
   */
  queues(): Promise<ReadonlyArray<QueueStats>> {
    return queueStats(this.deps);
  }

  /**
   * One page of tasks matching `filter`, newest first unless
   * `order: "oldest"`. Pass the page's `next` as `after` for the following
   * page (keyset pagination: pages stay fast however deep, and tasks added
   * meanwhile never shift them). A cursor from elsewhere is a `ValidationError`.
   *
   * @example
   * let page = await underway.ops.tasks({ queue: "email", state: ["failed", "cancelled"] });
   * while (page.next !== null) page = await underway.ops.tasks({ queue: "email" }, { after: page.next });
   */
  tasks(filter: TaskFilter = {}, options: ListOptions = {}): Promise<TaskPage> {
    return taskPage(this.deps, filter, options);
  }

  /**
   * One task in full (input, output, options, lease, history), or undefined
   * when no task has this id. Given the task's definition, its input and
   * output come decoded by the definition's schemas, typed (a `Date` output
   * comes back a `Date`); a task of another queue, or stored JSON the
   * schemas refuse, is then a `ValidationError`.
   *
   * @example
   * const raw = await underway.ops.task(id); // input and output as stored JSON
   * const typed = await underway.ops.task(id, welcomeEmail); // typed by the definition
   */
  task(id: string): Promise<TaskDetail | undefined>;
  task<In, V, R, O>(
    id: string,
    definition: TaskDefinition<In, V, R, O>,
  ): Promise<TypedTaskDetail<V, O> | undefined>;
  async task<In, V, R, O>(
    id: string,
    definition?: TaskDefinition<In, V, R, O>,
  ): Promise<TaskDetail | TypedTaskDetail<V, O> | undefined> {
    const detail = await taskDetail(this.deps, id);
    return detail === undefined || definition === undefined ? detail : typedTaskDetail(detail, definition);
  }

  /**
   * One batch (`job.enqueueBatch`): its members' counts by how they ended,
   * how many remain, the first 1,000 failed ids, its context, and its
   * callback task once enqueued; undefined when no batch has this id (never
   * created, or deleted by retention after it completed). A malformed id is
   * a `ValidationError`. One read by primary key.
   *
   * @example
   * const batch = await underway.ops.batch(batchId);
   * if (batch !== undefined) console.log(`${batch.total - batch.remaining}/${batch.total} ended`);
   */
  batch(id: string): Promise<BatchInfo | undefined> {
    return batchInfo(this.deps, id);
  }

  /**
   * A task's log lines (`ctx.log` in its handler), by attempt, oldest
   * first, each attempt with the count of its oldest lines cut (past the
   * definition's `maxLogLines`). Empty when its handler logged nothing.
   * Deleted with the task (retention, `ops.delete`).
   *
   * @example
   * for (const { attempt, cut, lines } of await underway.ops.taskLogs(id))
   *   console.log(`attempt ${attempt} (${cut} older lines cut)`, lines.map((line) => line.message));
   */
  taskLogs(id: string, options: TaskLogsOptions = {}): Promise<ReadonlyArray<AttemptLog>> {
    return taskLogs(this.deps, id, options);
  }

  /**
   * A multi-step job's fan-outs (steps that returned `fanOut(children)`),
   * oldest first: each one's batch of children with their counts, its
   * policy, and how it settled (null while it waits). An empty list for a
   * job that never fanned out. A malformed id is a `ValidationError`.
   *
   * @example
   * const [waiting] = await underway.ops.fanOuts(jobId);
   * if (waiting?.settled === null) console.log(`${waiting.succeeded}/${waiting.total} children done`);
   */
  fanOuts(jobId: string): Promise<ReadonlyArray<JobFanOut>> {
    return jobFanOuts(this.deps, jobId);
  }

  /**
   * Why a task is not running, and when it may: every reason found (not yet
   * due, a retry's backoff, its queue paused, its concurrency key full and
   * which tasks hold it, its rate budget spent and until when, its group
   * waiting its turn, due tasks ahead of it, no live worker for its queue,
   * claimed by a worker and its lease, a cancel requested, ended), blocking
   * ones first, each with a sentence and its typed facts, and an estimated
   * start when every reason ends by itself. Undefined when there is no task
   * with that id. One read of a few index probes (and, for a task with a
   * group, one per group whose turn comes first); safe on a busy queue.
   *
   * @example
   * const why = await underway.ops.explain(id);
   * console.log(why?.summary); // "key \"acct-7\" is full: 1 started task(s) hold its 1 slot(s) (…)"
   */
  explain(id: string): Promise<TaskExplanation | undefined> {
    return explainTask(this.deps, id);
  }

  /**
   * A deploy check: decodes the stored input of every pending and running
   * task of the definitions' queues with the definitions' input schemas as
   * they are now, and returns the tasks that would fail (a worker running
   * these definitions would fail them at once, fatally). Run it with the
   * new code's definitions before a deploy that changes a schema: a
   * non-zero `failed` means tasks enqueued by the old code would be
   * stranded. Multi-step jobs: the first step's tasks are decoded (the
   * later steps' inputs are the steps' own values, which no schema reads:
   * counted as `skipped`). A queue given by several definitions with
   * different schemas: a task fails if any of them refuses it (a worker
   * may run either). A codec that throws fails the task with what it threw.
   *
   * Reads the tasks in pages by id (bounded memory, whatever the backlog),
   * one statement each, with no lock: workers go on around it. A task
   * enqueued while it runs is read if its page is still ahead.
   * `underway check <module>` runs it from a shell (exit 3 when a task
   * would fail). See docs/flow-control.md, "A deploy check".
   *
   * @example
   * const check = await underway.ops.checkInputs([welcomeEmail, signup]);
   * if (check.failed > 0) throw new Error(`${check.failed} task(s) would fail: ${check.failures[0]?.error}`);
   */
  checkInputs(
    definitions: ReadonlyArray<CheckedDefinition>,
    options: CheckInputsOptions = {},
  ): Promise<InputCheck> {
    return checkInputs(this.deps, definitions, options);
  }

  /**
   * Throughput per queue and minute since `since` (default: the last hour),
   * oldest first, from counters each client flushes every few seconds: the
   * current minute is still filling, and counts of a process that crashed
   * in its last seconds are lost. Kept 7 days.
   */
  async throughput(
    options: { readonly queue?: string; readonly since?: Date } = {},
  ): Promise<ReadonlyArray<ThroughputBucket>> {
    checkOptionShape("throughput options", options, { queue: "string", since: "Date" });
    const queue = options.queue === undefined ? null : checkQueueName(options.queue);
    const since = options.since ?? new Date(Date.now() - 3_600_000);
    if (!storableTime(since))
      throw new ConfigError(`throughput: since must be a valid Date ${storableRange}, got ${String(since)}`);
    return orThrow(this.deps.store.queueStatsList(this.deps.pool, { queue, since })());
  }

  /**
   * Failed and cancelled tasks matching `filter` go back to pending, due
   * now, with a fresh retry budget (the policy's `maxAttempts` again; attempt
   * numbers go on counting). A dead-lettered task goes back to the queue it
   * came from. Each is recorded in its history as a `retried` event. A task
   * whose unique key a live task holds is skipped. A `state` other than
   * failed or cancelled in the filter is a `ValidationError`.
   */
  retry(filter: TaskFilter, options: BulkOptions = {}): Promise<BulkResult> {
    return bulkRetry(this.deps, filter, options);
  }

  /**
   * Pending tasks matching `filter` are cancelled at once; running ones are
   * asked to stop (their handler's signal fires in whichever process runs
   * them, and they end cancelled when it returns), as `job.cancel` does.
   */
  cancel(filter: TaskFilter, options: BulkOptions = {}): Promise<BulkResult> {
    return bulkCancel(this.deps, filter, options);
  }

  /**
   * Deletes tasks matching `filter`, with their history. Only finished
   * tasks (succeeded, failed, cancelled) unless the filter's `state` names
   * pending or in_progress: a filter without `state` never deletes live work.
   */
  delete(filter: TaskFilter, options: BulkOptions = {}): Promise<BulkResult> {
    return bulkDelete(this.deps, filter, options);
  }

  /**
   * Moves dead-lettered tasks of `dlq` matching `filter` back to the queue
   * each came from, as `redrive()` does (recorded as `redriven` events).
   * The filter may not name a queue (the `dlq` is it), and only `failed`.
   */
  redrive(dlq: string, filter: TaskFilter = {}, options: BulkOptions = {}): Promise<BulkResult> {
    return bulkRedrive(this.deps, dlq, filter, options).then((result) => {
      // For the redriven counter of metrics and events$ (src/events).
      this.deps.lifecycle.redriven(dlq, result.changed);
      return result;
    });
  }

  /** Pauses a queue in every process; see `underway.pauseQueue`. */
  pause(queue: string): Promise<void> {
    return setPaused(this.deps, queue, true);
  }

  /** Resumes a paused queue in every process; see `underway.resumeQueue`. */
  resume(queue: string): Promise<void> {
    return setPaused(this.deps, queue, false);
  }

  /**
   * The groups (tenants) of a queue, in key order, at most `limit` (default
   * 100, at most 1,000): those with pending or running tasks and those with
   * a weight set, each with its pending tasks (exact up to 1,000), its
   * running ones and its weight. Tasks without a group are not listed.
   *
   * @example
   * for (const g of await underway.ops.groups("reports")) console.log(g.group, g.pending.count, g.running);
   */
  groups(queue: string, options: { readonly limit?: number } = {}): Promise<ReadonlyArray<GroupStats>> {
    return queueGroups(this.deps, queue, options);
  }

  /**
   * Sets a group's weight, in every process from their next claim: a group
   * of weight 3 takes three tasks per turn where one of weight 1 takes one.
   * An integer from 1 to 1,000; null puts it back to the default, 1.
   *
   * @example
   * await underway.ops.setGroupWeight("reports", "acme", 3); // acme pays for three times the share
   */
  setGroupWeight(queue: string, group: string, weight: number | null): Promise<void> {
    return setGroupWeight(this.deps, queue, group, weight);
  }

  /**
   * A queue's rate limit: the setting in force and where it comes from
   * (an operator's, the definition's, or none), and its budgets' use now:
   * starts in the current window, and when a spent budget allows the next.
   * See docs/flow-control.md.
   */
  rateLimit(queue: string): Promise<RateLimitInfo> {
    return rateLimitInfo(this.deps, queue);
  }

  /**
   * Sets a queue's rate limit in every process, or with `null` turns it
   * off: an operator's setting, stored on the queue's row, which overrides
   * the definition's `rateLimit` (across restarts) until
   * {@link Ops.clearRateLimit}. Its workers wake at once and apply it from
   * their next claim; starts already counted stay counted. A bad value (a
   * limit of 0, a missing `periodMs`, an unknown field) is a `ConfigError`,
   * and nothing is written.
   *
   * @example
   * await underway.ops.setRateLimit("email", { limit: 10, periodMs: 1_000 }); // the provider throttles us
   * await underway.ops.clearRateLimit("email"); // back to the definition's
   */
  setRateLimit(queue: string, rateLimit: RateLimit | null): Promise<RateLimitInfo> {
    return changeRateLimit(this.deps, queue, "setRateLimit", rateLimit);
  }

  /** Clears an operator's rate limit setting: the definition's applies again (as the last worker to start recorded it). */
  clearRateLimit(queue: string): Promise<RateLimitInfo> {
    return changeRateLimit(this.deps, queue, "clearRateLimit", "definition");
  }

  /** A queue's stored cap setting: an operator's, or none (the definition's `maxPending` applies). */
  maxPending(queue: string): Promise<MaxPendingInfo> {
    return maxPendingInfo(this.deps, queue);
  }

  /**
   * Sets a queue's cap on pending tasks in every process, or with `null`
   * lifts it: an operator's setting, stored on the queue's row, which wins
   * over the definition's `maxPending` (across restarts) until
   * {@link Ops.clearMaxPending}. It applies to queues whose definition has
   * a `maxPending` (the others are never counted, so that they pay nothing):
   * a number is refused with a `ConfigError` for a queue whose last
   * registered definition has none (`maxPending(queue).counted` false).
   * Tasks already pending stay. A bad value is a `ConfigError`, and nothing is written.
   *
   * @example
   * await underway.ops.setMaxPending("thumbnails", 50_000);
   */
  setMaxPending(queue: string, maxPending: number | null): Promise<MaxPendingInfo> {
    return changeMaxPending(this.deps, queue, "setMaxPending", maxPending);
  }

  /** Clears an operator's cap setting: each enqueue's definition's `maxPending` applies again. */
  clearMaxPending(queue: string): Promise<MaxPendingInfo> {
    return changeMaxPending(this.deps, queue, "clearMaxPending", "definition");
  }

  /**
   * Every schedule with its next `nextRuns` run times (default 5, at most
   * 100), in its zone. A stored schedule that no longer validates (an
   * unknown zone, an expression this version refuses) comes with its
   * `error` and no run times; the others are listed as usual.
   */
  async schedules(options: { readonly nextRuns?: number } = {}): Promise<ReadonlyArray<ScheduleInfo>> {
    checkOptionShape("schedules options", options, { nextRuns: "integer" });
    const count = options.nextRuns ?? 5;
    if (!Number.isInteger(count) || count < 0 || count > 100)
      throw new ConfigError(`nextRuns must be an integer from 0 to 100, got ${String(count).slice(0, 40)}`);
    const rows = await orThrow(this.deps.store.schedulesList(this.deps.pool, {})());
    const now = new Date();
    return rows.map((row) => {
      const base = {
        queue: row.queue,
        expression: row.cron,
        timeZone: row.timeZone,
        input: row.input,
        lastRunAt: row.lastRunAt,
        lastTaskId: row.lastTaskId,
      };
      // A schedule stored by an older version, or whose zone this Node no
      // longer knows, is shown broken with its reason: one bad row must not
      // hide every other schedule.
      let spec: ScheduleSpec;
      try {
        spec = scheduleSpecOf(row.cron, row.timeZone);
      } catch (error) {
        return { ...base, nextRuns: [], error: messageOf(error) };
      }
      const nextRuns: Date[] = [];
      for (let after = now; nextRuns.length < count;) {
        const tick = nextTick(spec, after);
        if (tick === null) break;
        nextRuns.push(tick);
        after = tick;
      }
      return { ...base, nextRuns, error: null };
    });
  }

  /**
   * Removes a queue's schedule, in every process (running schedulers stop
   * firing it), as `unschedule(job)` does; false when it had none.
   */
  unschedule(queue: string): Promise<boolean> {
    return orThrow(this.deps.store.schedulesDelete(this.deps.pool, { queue: checkQueueName(queue) })());
  }

  /**
   * Enqueues a schedule's task now, outside its cron times: its stored
   * input, with the options of the task its latest run enqueued, or before
   * any run of the queue's newest task (ops has no job definition to read
   * them from). Resolves to the new task's id, or undefined when the queue
   * has no task to copy options from or a live task holds its unique key.
   * It is not a cron run: `lastRunAt` and the next runs stay as they were. A queue without a
   * schedule is a `ConfigError`.
   */
  async runSchedule(queue: string): Promise<string | undefined> {
    const name = checkQueueName(queue);
    const { store, pool } = this.deps;
    const rows = await orThrow(store.schedulesList(pool, {})());
    if (!rows.some((row) => row.queue === name)) throw new ConfigError(`queue ${name} has no schedule`);
    return orThrow(store.schedulesRunNow(pool, { queue: name })());
  }

  /**
   * Processes running workers, from the worker registry: each client that
   * runs workers renews its row every 10 s and deletes it on close. A
   * process not heard from for 30 s (crashed, frozen) is left out, and its
   * row pruned by the next heartbeat of any live one. Each comes with the
   * tasks it runs now; their lease names the same id.
   */
  async workers(): Promise<ReadonlyArray<WorkerInfo>> {
    const rows = await orThrow(
      this.deps.store.workerProcessesList(this.deps.pool, { liveSeconds: workerDeadAfterSeconds })(),
    );
    return rows.map((row) => ({
      ...row,
      running: row.running.map((task) => ({
        ...task,
        startedAt: task.startedAt === null ? null : new Date(task.startedAt),
      })),
    }));
  }
}
