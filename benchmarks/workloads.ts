import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { drain } from "./drain.ts";
import type { MemoryChildInput, MemoryChildOutput, MemorySample } from "./memoryChild.ts";
import type { Metric } from "./metric.ts";
import type { BenchSystem, TaskPayload } from "./system.ts";
import { vacuumAnalyze } from "./withClient.ts";

export interface WorkloadContext {
  readonly system: BenchSystem;
  readonly url: string;
  readonly scale: number;
  /** Handlers in flight for every worker, unless a workload says otherwise. */
  readonly concurrency: number;
}

export interface Workload {
  readonly name: string;
  readonly metrics: readonly Metric[];
  /** What the workload will do at `scale`, for the report. */
  describe(scale: number): string;
  /** Runs on an empty queue; returns a value for each of `metrics`, by key. */
  run(context: WorkloadContext): Promise<Readonly<Record<string, number>>>;
}

/** `n` at `scale`, never below `floor` so tiny scales still measure something. */
const sized = (n: number, scale: number, floor: number): number => Math.max(floor, Math.round(n * scale));

/**
 * Bulk enqueues go through each system's batch API this many tasks per call.
 * One size for every system: large enough that per-call overhead fades,
 * small enough for every library's single-statement inserts.
 */
const bulkChunk = 10_000;

const payloads = (from: number, count: number): TaskPayload[] =>
  Array.from({ length: count }, (_, k) => ({ i: from + k, t: 0 }));

const bulkInsert = async (system: BenchSystem, n: number): Promise<void> => {
  for (let from = 0; from < n; from += bulkChunk) {
    await system.bulkInsert(payloads(from, Math.min(bulkChunk, n - from)));
  }
};

/** Enqueues `n` tasks in bulk and leaves the planner statistics fresh, ready for a drain. */
const backlog = async (system: BenchSystem, url: string, n: number): Promise<void> => {
  await bulkInsert(system, n);
  await vacuumAnalyze(url, system.schema);
};

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
};

const mb = (bytes: number): number => bytes / (1024 * 1024);

const drainTasks = 20_000;
const drainWorkload: Workload = {
  name: "drain",
  metrics: [{ key: "drain", label: "drain", unit: "tasks/s", better: "higher", ratio: true }],
  describe: (scale) => `${sized(drainTasks, scale, 100)} tasks inserted in bulk, then drained`,
  async run({ system, url, scale, concurrency }) {
    const n = sized(drainTasks, scale, 100);
    await backlog(system, url, n);
    const result = await drain(system, n, concurrency);
    return { drain: result.tasksPerSecond };
  },
};

const singleTasks = 5_000;
const inFlight = 16;
const singleEnqueueWorkload: Workload = {
  name: "single-enqueue",
  metrics: [
    { key: "singleEnqueue", label: "single enqueue", unit: "enqueues/s", better: "higher", ratio: true },
  ],
  describe: (scale) => `${sized(singleTasks, scale, 100)} enqueues, ${inFlight} in flight`,
  async run({ system, scale }) {
    const n = sized(singleTasks, scale, 100);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < n) {
        const i = next;
        next += 1;
        await system.enqueue({ i, t: performance.now() });
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: inFlight }, lane));
    return { singleEnqueue: n / ((performance.now() - start) / 1000) };
  },
};

const bulkTasks = 100_000;
const bulkEnqueueWorkload: Workload = {
  name: "bulk-enqueue",
  metrics: [{ key: "bulkEnqueue", label: "bulk enqueue", unit: "tasks/s", better: "higher", ratio: true }],
  describe: (scale) => `${sized(bulkTasks, scale, 1_000)} tasks, ${bulkChunk} per batch call`,
  async run({ system, scale }) {
    const n = sized(bulkTasks, scale, 1_000);
    // Payloads are built before the clock starts: the harness's allocations are not the system's cost.
    const batches: TaskPayload[][] = [];
    for (let from = 0; from < n; from += bulkChunk)
      batches.push(payloads(from, Math.min(bulkChunk, n - from)));
    const start = performance.now();
    for (const batch of batches) await system.bulkInsert(batch);
    return { bulkEnqueue: n / ((performance.now() - start) / 1000) };
  },
};

const latencyTasks = 200;
const latencyWarmup = 5;
/** Pause after each task so the next one meets a worker that is idle again, its completion written. */
const latencyGapMs = 20;
const latencyTimeoutMs = 10_000;
const latencyWorkload: Workload = {
  name: "latency",
  metrics: [
    { key: "latencyP50", label: "latency p50", unit: "ms", better: "lower", ratio: true },
    { key: "latencyP99", label: "latency p99", unit: "ms", better: "lower", ratio: true },
  ],
  describe: (scale) =>
    `${sized(latencyTasks, scale, 50)} tasks one at a time into an idle worker (after ${latencyWarmup} unmeasured), enqueue call to handler start`,
  async run({ system, scale, concurrency }) {
    const n = sized(latencyTasks, scale, 50);
    let waiting: { readonly i: number; readonly started: (at: number) => void } | undefined;
    const worker = await system.startWorker(concurrency, (payload) => {
      const at = performance.now();
      if (waiting?.i === payload.i) waiting.started(at);
    });
    const latencies: number[] = [];
    try {
      for (let i = 0; i < latencyWarmup + n; i += 1) {
        let timer: NodeJS.Timeout | undefined;
        const started = new Promise<number>((resolve, fail) => {
          waiting = { i, started: resolve };
          timer = setTimeout(
            () => fail(new Error(`${system.name}: task ${i} not started after ${latencyTimeoutMs} ms`)),
            latencyTimeoutMs,
          );
        });
        const t = performance.now();
        await system.enqueue({ i, t });
        const at = await started.finally(() => clearTimeout(timer));
        if (i >= latencyWarmup) latencies.push(at - t);
        await sleep(latencyGapMs);
      }
    } finally {
      await worker.stop();
    }
    latencies.sort((a, b) => a - b);
    return { latencyP50: percentile(latencies, 50), latencyP99: percentile(latencies, 99) };
  },
};

const delayedTasks = 200;
const minDelayMs = 50;
const maxDelayMs = 500;
const delayedTimeoutMs = 15_000;
const delayedWorkload: Workload = {
  name: "delayed",
  metrics: [
    {
      key: "delayedLatenessP50",
      label: "delayed-task lateness p50",
      unit: "ms",
      better: "lower",
      ratio: true,
    },
    {
      key: "delayedLatenessP99",
      label: "delayed-task lateness p99",
      unit: "ms",
      better: "lower",
      ratio: true,
    },
  ],
  describe: (scale) =>
    `${sized(delayedTasks, scale, 20)} tasks each delayed ${minDelayMs}-${maxDelayMs} ms into an idle worker, enqueued one at a time; lateness is handler start minus (enqueue call + delay)`,
  async run({ system, scale, concurrency }) {
    const enqueueDelayed = system.enqueueDelayed?.bind(system);
    if (enqueueDelayed === undefined)
      throw new Error(`the benchmark has no delayed enqueue for ${system.name}`);
    const n = sized(delayedTasks, scale, 20);
    // Whole ms (BullMQ takes no fractions), spread evenly over the range in a scrambled order (7919 is prime).
    const delays = Array.from(
      { length: n },
      (_, i) => minDelayMs + Math.round((((i * 7919) % n) / n) * (maxDelayMs - minDelayMs)),
    );
    const lateness: number[] = [];
    let allStarted: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      allStarted = resolve;
    });
    // The payload's `t` is when the task is due, on this process's clock; the
    // enqueue call's own latency counts as lateness, for every system alike.
    const worker = await system.startWorker(concurrency, (payload) => {
      lateness.push(performance.now() - payload.t);
      if (lateness.length === n) allStarted();
    });
    try {
      // Let the worker reach its idle state (polled once, waiting for notifications).
      await sleep(1_000);
      // One enqueue at a time, as an application schedules follow-ups: many
      // concurrent notifying enqueues would measure their commit storm (a
      // claim waited up to a second behind one), not the timers.
      for (const [i, delayMs] of delays.entries()) {
        await enqueueDelayed({ i, t: performance.now() + delayMs }, delayMs);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished,
        new Promise<never>((_, fail) => {
          timer = setTimeout(
            () => fail(new Error(`${system.name}: ${n - lateness.length} delayed tasks not started`)),
            delayedTimeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    } finally {
      await worker.stop();
    }
    lateness.sort((a, b) => a - b);
    return { delayedLatenessP50: percentile(lateness, 50), delayedLatenessP99: percentile(lateness, 99) };
  },
};

const finishedRows = 1_000_000;
const growthTasks = 20_000;
const tableGrowthWorkload: Workload = {
  name: "table-growth",
  metrics: [
    { key: "growthEmpty", label: "drain, empty table", unit: "tasks/s", better: "higher", ratio: true },
    { key: "growthFull", label: "drain, with finished rows", unit: "tasks/s", better: "higher", ratio: true },
    {
      key: "growthChange",
      label: "drain change with finished rows",
      unit: "%",
      better: "higher",
      ratio: false,
    },
  ],
  describe: (scale) =>
    `drain ${sized(growthTasks, scale, 100)} tasks on an empty table, then with ${sized(finishedRows, scale, 1_000)} finished tasks in it`,
  async run({ system, url, scale, concurrency }) {
    const fill = system.fillFinished?.bind(system);
    if (fill === undefined) throw new Error(`${system.name} keeps no finished tasks`);
    const n = sized(growthTasks, scale, 100);
    await backlog(system, url, n);
    const empty = await drain(system, n, concurrency);
    await system.reset();
    await fill(sized(finishedRows, scale, 1_000));
    await backlog(system, url, n);
    const full = await drain(system, n, concurrency);
    return {
      growthEmpty: empty.tasksPerSecond,
      growthFull: full.tasksPerSecond,
      growthChange: (full.tasksPerSecond / empty.tasksPerSecond - 1) * 100,
    };
  },
};

const memoryTasks = 200_000;
/** RSS is compared from here on, so start-up and the first allocations of pools and caches are left out. */
const warmedUp = 0.25;
const childPath = fileURLToPath(new URL("./memoryChild.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

const runChild = (input: MemoryChildInput): Promise<MemoryChildOutput> =>
  new Promise((resolve, fail) => {
    // `--import tsx` resolves from the working folder, the repository root, where tsx is installed.
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", childPath, JSON.stringify(input)],
      {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      out += chunk;
    });
    child.on("error", fail);
    child.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || line === "") {
        fail(new Error(`${input.system}: memory child exited with ${String(code)}`));
        return;
      }
      resolve(JSON.parse(line) as MemoryChildOutput);
    });
  });

const sampleAt = (samples: readonly MemorySample[], done: number): MemorySample | undefined =>
  samples.find((s) => s.done >= done);

const memoryWorkload: Workload = {
  name: "memory",
  metrics: [
    { key: "memoryPeakRss", label: "worker peak RSS", unit: "MB", better: "lower", ratio: true },
    {
      key: "memoryRssGrowth",
      label: `worker RSS growth, ${warmedUp * 100}% to 100% drained`,
      unit: "MB",
      better: "lower",
      ratio: false,
    },
    {
      key: "memoryHeapGrowth",
      label: `worker heap growth, ${warmedUp * 100}% to 100% drained`,
      unit: "MB",
      better: "lower",
      ratio: false,
    },
    { key: "memoryDrain", label: "drain in worker process", unit: "tasks/s", better: "higher", ratio: true },
  ],
  describe: (scale) =>
    `${sized(memoryTasks, scale, 1_000)} tasks drained by a worker in a child process of its own, RSS sampled every 5% and every 50 ms`,
  async run({ system, url, scale, concurrency }) {
    const n = sized(memoryTasks, scale, 1_000);
    await backlog(system, url, n);
    const output = await runChild({ system: system.name, url, n, concurrency });
    const from = sampleAt(output.samples, n * warmedUp);
    const to = output.samples.at(-1);
    if (from === undefined || to === undefined) throw new Error(`${system.name}: no memory samples`);
    return {
      memoryPeakRss: mb(output.peakRssBytes),
      memoryRssGrowth: mb(to.rssBytes - from.rssBytes),
      memoryHeapGrowth: mb(to.heapUsedBytes - from.heapUsedBytes),
      memoryDrain: output.tasksPerSecond,
    };
  },
};

/** Every workload of issue 5, in the order a run measures them. */
export const workloads: readonly Workload[] = [
  drainWorkload,
  singleEnqueueWorkload,
  bulkEnqueueWorkload,
  latencyWorkload,
  delayedWorkload,
  tableGrowthWorkload,
  memoryWorkload,
];
