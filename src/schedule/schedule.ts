import { Cron } from "croner";
import { queryableRule } from "../enqueue/enqueueOptions.ts";
import { checkOptionShape } from "../optionShape.ts";
import * as E from "fp-ts/lib/Either.js";
import { pipe } from "fp-ts/lib/function.js";
import { ConfigError, ValidationError, messageOf, orThrow } from "../errors.ts";
import type { JobDefinition } from "../definition.ts";
import type { CheckedInput } from "../enqueue/checkInput.ts";
import type { EnqueueColumns } from "../db/enqueueColumns.ts";
import type { Queryable } from "../db/query.ts";
import { depsOf } from "../client/clientDeps.ts";
import type { Underway } from "../underway.ts";

/**
 * A validated cron schedule: an expression with 5 fields (minute first) or
 * 6 (second first), or a nickname such as `@daily`, read as wall-clock time
 * in an IANA time zone.
 */
export interface ScheduleSpec {
  /** The cron expression, as written. */
  readonly cron: string;
  /** The IANA time zone, as written. */
  readonly timeZone: string;
  /** @internal The parsed pattern; a paused croner instance, it owns no timer. */
  readonly pattern: Cron;
}

const example = '"0 */15 * * * *[America/Los_Angeles]" or "@daily[Europe/Berlin]"';
const specPattern = /^(.+?)\[([^\]]*)\]$/;

// Intl knows the zones of the ICU data Node ships with; croner itself does
// not reject an unknown zone until it computes a time, and then obscurely.
const isKnownZone = (zone: string): boolean => {
  // Offsets ("+02:00") are accepted by newer Intl versions but have no DST
  // rules and no name: a schedule names a zone.
  if (zone === "" || /^[+-]/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

/**
 * Validates an expression and a zone given apart (as stored). Throws a
 * `ConfigError` naming what is wrong.
 */
export const scheduleSpecOf = (cron: string, timeZone: string): ScheduleSpec => {
  const expression = cron.trim().replace(/\s+/g, " ");
  const where = `schedule ${JSON.stringify(`${cron}[${timeZone}]`)}`;
  if (!isKnownZone(timeZone)) {
    throw new ConfigError(
      `invalid ${where}: unknown time zone ${JSON.stringify(timeZone)}; use an IANA name such as "Europe/Berlin" or "UTC"`,
    );
  }
  const pattern = pipe(
    E.tryCatch(
      // A seventh (year) field is croner's extension; keep to the forms
      // other cron tools read the same way.
      () => new Cron(expression, { timezone: timeZone, paused: true, mode: "5-or-6-parts" }),
      (cause) => messageOf(cause).replace(/^CronPattern: /, ""),
    ),
    E.getOrElse((reason): Cron => {
      throw new ConfigError(
        `invalid ${where}: cron expression ${JSON.stringify(expression)} is invalid: ${reason}; ` +
          "use 5 fields (minute hour day month weekday), 6 (second first) or a nickname like @daily",
      );
    }),
  );
  if (pattern.nextRun(new Date()) === null) {
    throw new ConfigError(`invalid ${where}: cron expression ${JSON.stringify(expression)} never fires`);
  }
  return { cron: expression, timeZone, pattern };
};

/**
 * Parses `"<cron>[<IANA zone>]"`. The zone is required: a schedule without
 * one would fire at different instants on machines set to different zones.
 * Throws a `ConfigError` naming what is wrong.
 *
 * @example
 * parseSchedule("0 *\/15 * * * *[America/Los_Angeles]"); // every 15 minutes, seconds field first
 * parseSchedule("30 2 * * *[Europe/Berlin]");           // 02:30 Berlin time, minute field first
 * parseSchedule("@daily[UTC]");
 */
export const parseSchedule = (text: string): ScheduleSpec => {
  const match = specPattern.exec(text.trim());
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new ConfigError(
      `invalid schedule ${JSON.stringify(text)}: expected "<cron expression>[<IANA time zone>]", such as ${example}`,
    );
  }
  return scheduleSpecOf(match[1], match[2].trim());
};

/** The spec back in `"<cron>[<zone>]"` form. */
export const formatSchedule = (spec: ScheduleSpec): string => `${spec.cron}[${spec.timeZone}]`;

/**
 * The first tick strictly after `after`, or null if there is none. Across
 * DST changes it follows the zone's clock as Vixie cron does: a time the
 * clock skips fires once just after the jump for a fixed-time expression
 * (single second, minute and hour) and is skipped by an interval expression;
 * a time the clock shows twice fires once for a fixed-time expression and at
 * both instants for an interval expression.
 */
export const nextTick = (spec: ScheduleSpec, after: Date): Date | null => spec.pattern.nextRun(after);

/**
 * The ticks in `(from, to]`, oldest first; at most `limit`, the latest ones
 * when there are more.
 */
export const ticksBetween = (spec: ScheduleSpec, from: Date, to: Date, limit = 10_000): Date[] => {
  const ticks: Date[] = [];
  // Walk back from `to` in small batches: the cost follows the ticks
  // returned, not the `limit`, so a sparse schedule is not searched for
  // years before `from`. previousRuns counts ticks before its reference (and
  // one earlier in the same second); one millisecond past `to` makes `to`
  // itself count.
  let reference = new Date(to.getTime() + 1);
  while (ticks.length < limit) {
    const want = Math.min(64, limit - ticks.length);
    const batch = spec.pattern.previousRuns(want, reference);
    for (const tick of batch) {
      if (tick.getTime() <= from.getTime()) return ticks.reverse();
      if (tick.getTime() < reference.getTime()) ticks.push(tick);
    }
    const oldest = batch[batch.length - 1];
    if (batch.length < want || oldest === undefined) break;
    reference = oldest;
  }
  return ticks.reverse();
};

/** What a schedule needs of a job: its client, its queue and how it builds task rows. */
export interface Schedulable<In, V> {
  /** The client. */
  readonly underway: Underway;
  /** The queue's name. */
  readonly queue: string;
  /** The task type. */
  readonly definition: Pick<JobDefinition<In, V, unknown, unknown>, "input">;
  /** @internal Task rows for checked inputs. */
  columnsOf(inputs: ReadonlyArray<CheckedInput<V>>, options: undefined): EnqueueColumns;
}

/** Options of {@link schedule}. */
export interface ScheduleOptions {
  /**
   * Enqueue the ticks missed while no scheduler ran (up to the scheduler's
   * `maxCatchUp`, the latest ones). Default false: they are skipped.
   */
  readonly catchUp?: boolean;
  /** Your pg client, inside your transaction: the schedule changes if and only if you commit. */
  readonly client?: Queryable;
}

/**
 * Sets the job's queue's schedule (one per queue), replacing any previous
 * one. The input is validated by the queue's codec and stored encoded; each
 * tick enqueues one task with it, however many schedulers run. Running
 * schedulers pick the change up at once (NOTIFY), without a restart.
 *
 * @example
 * await schedule(job, "0 0 9 * * MON-FRI[America/New_York]", { report: "daily" });
 * const scheduler = runScheduler(job); // in every process that should enqueue ticks
 */
export const schedule = async <In, V>(
  job: Schedulable<In, V>,
  expression: string,
  input: In,
  options: ScheduleOptions = {},
): Promise<ScheduleSpec> => {
  checkOptionShape("schedule options", options, { catchUp: "boolean", client: queryableRule });
  const spec = parseSchedule(expression);
  const { queue } = job;
  const valid = pipe(
    job.definition.input.check(input),
    E.getOrElseW((error) => {
      throw new ValidationError(`invalid scheduled input for queue ${queue}`, error);
    }),
  );
  const db = depsOf(job.underway);
  await orThrow(
    db.store.schedulesUpsert(options.client ?? db.pool, {
      queue,
      cron: spec.cron,
      timeZone: spec.timeZone,
      input: valid.json,
      catchUp: options.catchUp ?? false,
    })(),
  );
  return spec;
};

/**
 * Removes the job's queue's schedule; running schedulers stop enqueuing at
 * once. Resolves with whether there was one.
 */
export const unschedule = <In, V>(
  job: Schedulable<In, V>,
  options: { readonly client?: Queryable } = {},
): Promise<boolean> => {
  try {
    checkOptionShape("unschedule options", options, { client: queryableRule });
  } catch (error) {
    return Promise.reject(error as Error);
  }
  const db = depsOf(job.underway);
  return orThrow(db.store.schedulesDelete(options.client ?? db.pool, { queue: job.queue })());
};
