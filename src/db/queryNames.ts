/**
 * The files of `db/queries/`, without `.sql`. A query is named by one of
 * these, so a misspelt name is a compile error rather than a failure at
 * run time; test/queryCatalogue.test.ts holds this list to the folder.
 */
export const queryNames = [
  "backendPid",
  "backendsCancel",
  "groupWeightsDelete",
  "groupWeightsUpsert",
  "opsErrorIndex",
  "opsQueueCounts",
  "opsQueueGroups",
  "opsQueueNames",
  "opsQueuesList",
  "opsTaskDetail",
  "opsTaskExplain",
  "opsTasksByPair",
  "opsTasksCancel",
  "opsTasksCount",
  "opsTasksDelete",
  "opsTasksIndexed",
  "opsTasksInputs",
  "opsTasksPairBranch",
  "opsTasksPlain",
  "opsTasksRetry",
  "opsTasksWalk",
  "outcomeListenersDelete",
  "outcomeListenersUpsert",
  "queueStatsAdd",
  "queueStatsList",
  "queueStatsPrune",
  "queueWaitersDelete",
  "queueWaitersUpsert",
  "queuesDefineRateLimit",
  "queuesGetPaused",
  "queuesGetRateLimit",
  "queuesSetPaused",
  "queuesSetRateLimit",
  "queuesUpsert",
  "rateBudgetsPrune",
  "scheduleTicksInsert",
  "scheduleTicksSetTask",
  "schedulesDelete",
  "schedulesGet",
  "schedulesList",
  "schedulesRunNow",
  "schedulesUpsert",
  "taskAttemptsList",
  "taskEventsList",
  "taskLogsAppend",
  "taskLogsCount",
  "taskLogsList",
  "taskProgressGet",
  "taskProgressSet",
  "tasksCancel",
  "tasksCancelRequested",
  "tasksClaim",
  "tasksComplete",
  "tasksCompleteAndClaim",
  "tasksCompleteAndContinue",
  "tasksCompleteLeased",
  "tasksDeleteExpired",
  "tasksEnqueue",
  "tasksEnqueueOne",
  "tasksEnqueueThrottled",
  "tasksEnqueueDebounced",
  "tasksDebounceLock",
  "queuesCheckPending",
  "queuesSetMaxPending",
  "queuesGetMaxPending",
  "tasksEnqueueUniform",
  "tasksFail",
  "tasksFindUnique",
  "tasksGet",
  "tasksGetLatestOfJob",
  "tasksGetMany",
  "tasksHeartbeat",
  "tasksListPending",
  "tasksLockJob",
  "tasksNextDue",
  "tasksReap",
  "tasksRedrive",
  "tasksRelease",
  "tasksRetry",
  "tasksSnooze",
  "tasksStart",
  "workerProcessesDelete",
  "workerProcessesList",
  "workerProcessesUpsert",
] as const;

/** One file of `db/queries/`. */
export type QueryName = (typeof queryNames)[number];

/**
 * Files of `db/queries/` that are never run alone: each is spliced into
 * another query's text at run time (the per-pair branch of
 * `opsTasksByPair`), so it has no method of the store.
 */
export const branchNames = ["opsTasksPairBranch"] as const satisfies ReadonlyArray<QueryName>;

/** A file of `db/queries/` that is a statement of its own: one method of the store (./store.ts). */
export type StatementName = Exclude<QueryName, (typeof branchNames)[number]>;
