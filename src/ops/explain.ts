import { checkTaskId } from "../identifier.ts";
import { orThrow } from "../errors.ts";
import type { Db } from "../client/clientDeps.ts";
import type { ExplainRow } from "../db/opsQueries.ts";
import { workerDeadAfterSeconds } from "./workerRegistry.ts";
import { formatPeriod } from "./ratePeriod.ts";
import type { TaskExplanation, WaitReason } from "./types.ts";

/** Tasks ahead are counted up to this many: past it the count says "at least". */
export const explainAheadBound = 10_000;

const iso = (at: Date): string => at.toISOString();

/** "in 3 s", "in 2 min", "1 h ago": a span from `now` for a message. */
const span = (at: Date, now: Date): string => {
  const ms = at.getTime() - now.getTime();
  const abs = Math.abs(ms);
  const text =
    abs < 1_000
      ? `${abs} ms`
      : abs < 120_000
        ? `${Math.round(abs / 1_000)} s`
        : abs < 7_200_000
          ? `${Math.round(abs / 60_000)} min`
          : `${Math.round(abs / 3_600_000)} h`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
};

/**
 * The reasons one task's facts give, blocking ones first, and whether each
 * ends by itself at a known time (`until`) or not (null): pure, so every
 * case is tested without a database.
 */
const reasonsOf = (
  row: ExplainRow,
): ReadonlyArray<{ readonly reason: WaitReason; readonly until: Date | null }> => {
  const now = row.now;
  if (row.state === "succeeded" || row.state === "failed" || row.state === "cancelled") {
    const finished = row.finishedAt === null ? "" : ` ${span(row.finishedAt, now)} (${iso(row.finishedAt)})`;
    return [
      {
        reason: {
          kind: "ended",
          state: row.state,
          finishedAt: row.finishedAt,
          message: `it ended ${row.state}${finished}; it runs again only if retried or redriven`,
        },
        until: null,
      },
    ];
  }
  const found: Array<{ readonly reason: WaitReason; readonly until: Date | null }> = [];
  const missed = row.state === "pending" && row.startBy !== null && row.startBy.getTime() <= now.getTime();
  if (missed && row.startBy !== null)
    found.push({
      reason: {
        kind: "deadline",
        startBy: row.startBy,
        passed: true,
        message: `it was not started by its deadline, ${span(row.startBy, now)} (${iso(row.startBy)}): it never starts, and the reaper's next sweep ends it cancelled`,
      },
      until: null,
    });
  if (row.cancelRequestedAt !== null)
    found.push({
      reason: {
        kind: "cancelRequested",
        at: row.cancelRequestedAt,
        message: `a cancel was requested ${span(row.cancelRequestedAt, now)}: it ends cancelled rather than run again`,
      },
      until: null,
    });
  if (row.state === "in_progress") {
    const started = row.startedAt !== null;
    const lease =
      row.leaseExpiresAt === null
        ? ""
        : `; its lease expires ${span(row.leaseExpiresAt, now)} unless renewed`;
    found.push({
      reason: {
        kind: "claimed",
        workerId: row.workerId,
        leaseExpiresAt: row.leaseExpiresAt,
        started,
        message: started
          ? `it is running: attempt ${row.attempt} on worker ${row.workerId ?? "?"}${lease}`
          : `worker ${row.workerId ?? "?"} claimed it ahead of a free slot of key "${row.concurrencyKey ?? ""}" and starts it when one frees${lease}`,
      },
      until: null,
    });
    return found;
  }
  if (row.pausedAt !== null)
    found.push({
      reason: {
        kind: "paused",
        since: row.pausedAt,
        message: `queue ${row.queue} is paused (since ${iso(row.pausedAt)}): nothing of it starts until it is resumed`,
      },
      until: null,
    });
  const snoozed = row.snoozedUntil !== null && row.snoozedUntil.getTime() === row.runAt.getTime();
  if (row.runAt.getTime() > now.getTime())
    found.push(
      snoozed
        ? {
            reason: {
              kind: "snoozed",
              until: row.runAt,
              snoozes: row.snoozes,
              message: `its handler snoozed it until ${iso(row.runAt)} (${span(row.runAt, now)}); ${row.snoozes} snooze(s) so far, no attempt spent`,
            },
            until: row.runAt,
          }
        : row.attempt === 0
          ? {
              reason: {
                kind: "delayed",
                until: row.runAt,
                debounceKey: row.debounceKey,
                message:
                  `it is not due yet: due ${span(row.runAt, now)} (${iso(row.runAt)})` +
                  (row.debounceKey === null
                    ? ""
                    : `; debounced: each enqueue of key ${JSON.stringify(row.debounceKey.slice(0, 60))} pushes its start back`),
              },
              until: row.runAt,
            }
          : {
              reason: {
                kind: "backoff",
                until: row.runAt,
                attempt: row.attempt,
                message: `attempt ${row.attempt} of ${row.maxAttempts} failed; it retries ${span(row.runAt, now)} (${iso(row.runAt)})${row.error === null ? "" : `, last error: ${row.error}`}`,
              },
              until: row.runAt,
            },
    );
  if (row.concurrencyKey !== null && row.keyHolders !== null && row.keyHolders.length >= row.concurrencyLimit)
    found.push({
      reason: {
        kind: "keyFull",
        key: row.concurrencyKey,
        limit: row.concurrencyLimit,
        heldBy: row.keyHolders,
        leaseExpiresAt: row.keyLeaseExpiresAt,
        message: `key "${row.concurrencyKey}" is full: ${row.keyHolders.length} started task(s) hold its ${row.concurrencyLimit} slot(s) (${row.keyHolders.slice(0, 5).join(", ")}${row.keyHolders.length > 5 ? ", …" : ""}); it can start when one ends`,
      },
      until: null,
    });
  // Spent only if it still is when the task falls due: a budget freed by then does not hold it back.
  if (
    row.rateLimit !== null &&
    row.ratePeriodMs !== null &&
    row.rateFreeAt !== null &&
    row.rateFreeAt.getTime() > Math.max(now.getTime(), row.runAt.getTime())
  ) {
    const budget = row.rateKey === null ? `of queue ${row.queue}` : `of key "${row.rateKey}"`;
    found.push({
      reason: {
        kind: "rateSpent",
        key: row.rateKey,
        limit: row.rateLimit,
        periodMs: row.ratePeriodMs,
        used: row.rateUsed ?? row.rateLimit,
        until: row.rateFreeAt,
        message: `rate budget ${budget} spent until ${iso(row.rateFreeAt)} (${span(row.rateFreeAt, now)}): ${row.rateUsed ?? row.rateLimit} of ${row.rateLimit} start(s) in the last ${formatPeriod(row.ratePeriodMs)}`,
      },
      until: row.rateFreeAt,
    });
  }
  if (row.liveWorkers === 0)
    found.push({
      reason: {
        kind: "noWorker",
        lastSeenAt: row.lastWorkerSeenAt,
        message:
          row.lastWorkerSeenAt === null
            ? `no live worker process works queue ${row.queue}`
            : `no live worker process works queue ${row.queue}; one was last seen ${span(row.lastWorkerSeenAt, now)}`,
      },
      until: null,
    });
  const groupsAhead = row.groupsAhead ?? 0;
  if (row.group !== null && groupsAhead > 0) {
    const atLeast = groupsAhead > explainAheadBound;
    const count = atLeast ? explainAheadBound : groupsAhead;
    const weight = row.groupWeight ?? 1;
    found.push({
      reason: {
        kind: "groupTurn",
        group: row.group,
        groupsAhead: count,
        groupsAheadAtLeast: atLeast,
        weight,
        message: `group "${row.group}" is waiting its turn: ${atLeast ? "at least " : ""}${count} group(s) with pending tasks take theirs first; it takes ${weight} task(s) a turn (its weight)`,
      },
      // Each group ahead takes at least one task, at the queue's recent pace.
      until: row.perSecond > 0 && !atLeast ? new Date(now.getTime() + (count / row.perSecond) * 1_000) : null,
    });
  }
  const ahead = row.ahead ?? 0;
  if (ahead > 0) {
    const atLeast = ahead > explainAheadBound;
    const count = atLeast ? explainAheadBound : ahead;
    found.push({
      reason: {
        kind: "queued",
        ahead: count,
        aheadAtLeast: atLeast,
        message: `${atLeast ? "at least " : ""}${count} due task(s) of ${row.group === null ? `queue ${row.queue}` : `group "${row.group}"`} are claimed before it (higher priority, due earlier, or older)`,
      },
      until: row.perSecond > 0 && !atLeast ? new Date(now.getTime() + (count / row.perSecond) * 1_000) : null,
    });
  }
  // Last: it holds nothing back, it says what happens if the rest takes too long.
  if (row.state === "pending" && row.startBy !== null && !missed)
    found.push({
      reason: {
        kind: "deadline",
        startBy: row.startBy,
        passed: false,
        message: `it must start by ${iso(row.startBy)} (${span(row.startBy, now)}), or it is cancelled instead`,
      },
      until: now,
    });
  return found;
};

/** The explanation of one task's facts; see {@link Ops.explain}. */
export const explanationOf = (row: ExplainRow): TaskExplanation => {
  const found = reasonsOf(row);
  const pending = row.state === "pending";
  const estimatedStartAt =
    !pending || found.some((f) => f.until === null)
      ? null
      : new Date(Math.max(row.now.getTime(), ...found.map((f) => (f.until ?? row.now).getTime())));
  // Waiting in line (behind tasks, or for its group's turn) is not being
  // held back, nor is a start deadline still ahead.
  const runnable =
    pending &&
    found.every(
      (f) =>
        f.reason.kind === "queued" ||
        f.reason.kind === "groupTurn" ||
        (f.reason.kind === "deadline" && !f.reason.passed),
    );
  const first = found[0];
  return {
    id: row.id,
    queue: row.queue,
    state: row.state,
    runnable,
    reasons: found.map((f) => f.reason),
    estimatedStartAt,
    at: row.now,
    summary:
      first === undefined
        ? "nothing holds it back: a worker of its queue takes it at its next claim"
        : runnable
          ? `${first.reason.message}; nothing else holds it back`
          : first.reason.message,
  };
};

/** Why one task is not running, or undefined when there is no task with that id; see {@link Ops.explain}. */
export const explainTask = async (deps: Db, id: string): Promise<TaskExplanation | undefined> => {
  checkTaskId(id);
  const row = await orThrow(
    deps.store.opsTaskExplain(deps.pool, {
      id,
      liveSeconds: workerDeadAfterSeconds,
      bound: explainAheadBound,
    })(),
  );
  return row === undefined ? undefined : explanationOf(row);
};

/**
 * @internal Why an explanation has no estimated start, for the CLI and the
 * dashboard: a task that only waits in line has no estimate for want of a
 * pace to time it, not because a reason never ends.
 */
export const unknownEstimateText = (why: TaskExplanation): string =>
  why.reasons.some((r) => r.kind === "paused" || r.kind === "keyFull" || r.kind === "noWorker")
    ? "a reason above has no known end"
    : why.reasons.some(
          (r) => (r.kind === "queued" && r.aheadAtLeast) || (r.kind === "groupTurn" && r.groupsAheadAtLeast),
        )
      ? `more than ${explainAheadBound} tasks or groups ahead to time the wait`
      : "no attempt of its queue ended in the last five minutes to time the wait from";
