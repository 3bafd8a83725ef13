// What the lifecycle report points cost a worker when nobody listens
// (no events$ subscriber, no metrics, no tracing): the three calls one
// attempt makes (claimed, started, ended), in a tight loop, against an empty
// loop of the same length. No database: the calls are all that is timed.
//
//   npx tsx benchmarks/eventsCost.ts [--calls 10000000] [--rounds 3]
import { parseArgs } from "node:util";
import { TaskEvents } from "../src/events/taskEvents.ts";
import { silentLogger } from "../src/log.ts";
import type { Outcome } from "../src/outcomes.ts";
import type { RunningTask } from "../src/worker/execute.ts";

const { values: args } = parseArgs({
  options: { calls: { type: "string", default: "10000000" }, rounds: { type: "string", default: "3" } },
});
const n = Number(args.calls);
const events = new TaskEvents(silentLogger, () => undefined);
const row = {
  id: "1",
  attempt: 1,
  max_attempts: 5,
  job_id: null,
  step_index: null,
  wait_ms: 3,
  trace_context: null,
};
const task = { row, controller: new AbortController(), abandon: new AbortController(), started: true };
const outcome = {
  _tag: "succeeded",
  taskId: "1",
  queue: "q",
  attempt: 1,
  jobId: null,
  stepIndex: null,
  output: null,
};

const perAttempt = (): number => {
  const started = performance.now();
  for (let i = 0; i < n; i += 1) {
    events.claimed("q", 1, 0.5);
    events.started("q", task as unknown as RunningTask);
    events.ended("q", task as unknown as RunningTask, outcome as Outcome<null>);
  }
  return ((performance.now() - started) * 1e6) / n;
};
const emptyLoop = (): number => {
  const started = performance.now();
  let sink = 0;
  for (let i = 0; i < n; i += 1) sink += i & 1;
  if (sink < 0) console.log(sink);
  return ((performance.now() - started) * 1e6) / n;
};
for (let round = 0; round < Number(args.rounds); round += 1)
  console.log(
    `no listener: ${perAttempt().toFixed(1)} ns per attempt (claimed + started + ended); empty loop ${emptyLoop().toFixed(1)} ns`,
  );
