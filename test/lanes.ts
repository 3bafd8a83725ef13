// Which lane each test file of test/ runs in (test/run.ts reads this):
//
// - unit: no database at all. The unit lane runs without DATABASE_URL and
//   refuses to create one (support/testDatabase.ts), so `npm run test:unit`
//   passes with PostgreSQL stopped. Pure functions, option checks, stream
//   stages on virtual time.
// - db: a database of the file's own (support/harness.ts useDatabase), in
//   this process. Files run two at a time: each has its own database, and
//   NOTIFY channels, advisory locks and the task tables are per database.
// - system: more than a database: child processes (CLI runs, fixture
//   workers, SIGKILL and SIGTERM), servers of their own, PgBouncer, Chromium.
//   These run two at a time too (each still on its own database), except
//   the files marked `alone`, which run one at a time after the others, for
//   the reason given.
//
// A file missing here runs in the db lane, and the runner says so: add it
// here with its lane. Keep the list in file-name order.

/** The lanes, in the order `npm test` runs them. */
export const laneNames = ["unit", "db", "system"] as const;

/** One lane: what its files need from the machine. */
export type Lane = (typeof laneNames)[number];

/** Where one file runs; `alone` says why it may not run beside another file. */
export type Placement = Lane | { readonly lane: Lane; readonly alone: string };

/** Every test file of test/ (by file name) and its lane. */
export const lanes: Readonly<Record<string, Placement>> = {
  "attemptPipeline.test.ts": "db",
  "attempts.test.ts": "db",
  "batchHandlers.test.ts": "db",
  "batchHandlers.unit.test.ts": "unit",
  "batches.test.ts": "system",
  "checkCli.test.ts": "system",
  "checkInputs.test.ts": "db",
  "claimFunction.test.ts": "db",
  "claimPlain.test.ts": "db",
  "cli.test.ts": "system",
  "cliHostile.test.ts": "system",
  "cliOps.test.ts": "system",
  "close.test.ts": "system",
  "concurrencyKey.test.ts": {
    lane: "system",
    alone:
      "asserts keys flow side by side (60 tasks in under half the serial time): beside another file it took 4.3 s of 3",
  },
  "crash.test.ts": "system",
  "deadlines.test.ts": "system",
  "dashboard.test.ts": {
    lane: "system",
    alone: "Chromium takes most of the two cores; the live-update checks wait on the page",
  },
  "dashboardSecurity.test.ts": "db",
  "debounceCaps.test.ts": "db",
  "definition.test.ts": "db",
  "devDatabase.test.ts": {
    lane: "system",
    alone: "starts, kills and cleans up embedded servers, and looks for orphaned server processes",
  },
  "dueTimer.unit.test.ts": "unit",
  "durability.test.ts": "db",
  "enqueue.test.ts": "db",
  "errors.test.ts": "db",
  "errors.unit.test.ts": "unit",
  "explain.test.ts": "db",
  "explain.unit.test.ts": "unit",
  "events.test.ts": "system",
  "fanOut.test.ts": "system",
  "fencing.test.ts": "system",
  "finishedApart.test.ts": "db",
  "frozen.test.ts": "system",
  "genericPlans.test.ts": "db",
  "groups.test.ts": "db",
  "groupsProcesses.test.ts": "system",
  "halfopen.test.ts": "db",
  "hardening.test.ts": "system",
  "jobGraph.unit.test.ts": "unit",
  "keyPrefetch.test.ts": "db",
  "load.test.ts": {
    lane: "system",
    alone: "3,000 tasks through three worker processes, one killed: a throughput run that needs the cores",
  },
  "migrate.test.ts": "db",
  "namedStatements.test.ts": "db",
  "ops.test.ts": "db",
  "opsHostile.test.ts": "db",
  "opsProcesses.test.ts": "system",
  "optionTypos.test.ts": "db",
  "pause.test.ts": "system",
  "perform.unit.test.ts": "unit",
  "pgbouncer.test.ts": "system",
  "progress.test.ts": "system",
  "progressPerform.unit.test.ts": "unit",
  "prometheus.test.ts": "db",
  "queryCatalogue.test.ts": "unit",
  "races.test.ts": "system",
  "rateLimit.test.ts": "db",
  "rateLimitCli.test.ts": "system",
  "rateLimitProcesses.test.ts": {
    lane: "system",
    alone: "asserts starts at the limit's pace (within 10%) across four worker processes: a throughput run",
  },
  "redrive.test.ts": "db",
  "restart.test.ts": "system",
  "retention.test.ts": "db",
  "schedule.test.ts": "system",
  "scheduleExpressions.unit.test.ts": "unit",
  "search.test.ts": "system",
  "snooze.test.ts": "db",
  "steps.test.ts": "system",
  "telemetry.test.ts": "db",
  "testingKit.test.ts": "db",
  "timers.test.ts": "db",
  "transactions.test.ts": "system",
  "workOptions.test.ts": "db",
  "workOptions.unit.test.ts": "unit",
  "worker.test.ts": "system",
  "workerAttack.test.ts": "system",
  "workerState.test.ts": "unit",
  "workerStreams.test.ts": "unit",
};

/** The lane of a placement. */
export const laneOf = (placement: Placement): Lane =>
  typeof placement === "string" ? placement : placement.lane;

/** Why a file must run alone, or undefined when it may run beside another. */
export const aloneBecause = (placement: Placement): string | undefined =>
  typeof placement === "string" ? undefined : placement.alone;
