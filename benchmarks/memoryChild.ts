/**
 * The memory workload's worker process: drains the queue the parent filled,
 * using one system only, and prints what it measured as one JSON line.
 * A process of its own gives each system an RSS untouched by the others'
 * libraries, heaps and pools, and by the harness's own arrays of payloads.
 */
import { drain } from "./drain.ts";
import { findSystem } from "./registry.ts";

export interface MemoryChildInput {
  readonly system: string;
  readonly url: string;
  readonly n: number;
  readonly concurrency: number;
}

export interface MemorySample {
  /** Tasks processed when the sample was taken. */
  readonly done: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
}

export interface MemoryChildOutput {
  readonly tasksPerSecond: number;
  /** Highest RSS seen, sampled on a timer and at every progress step. */
  readonly peakRssBytes: number;
  /** One sample per 5% of the tasks, the first before any task, the last after all. */
  readonly samples: readonly MemorySample[];
}

const sampleEveryMs = 50;
const steps = 20;

const main = async (): Promise<void> => {
  const input = JSON.parse(process.argv[2] ?? "") as MemoryChildInput;
  const system = await findSystem(input.system).create();
  await system.setup(input.url, false);
  const samples: MemorySample[] = [];
  let peakRssBytes = 0;
  let done = 0;
  const sample = (): void => {
    // A full collection first (the parent passes --expose-gc) so heapUsed is what is retained, not garbage.
    globalThis.gc?.();
    const usage = process.memoryUsage();
    peakRssBytes = Math.max(peakRssBytes, usage.rss);
    samples.push({ done, rssBytes: usage.rss, heapUsedBytes: usage.heapUsed });
  };
  sample();
  const timer = setInterval(() => {
    peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss());
  }, sampleEveryMs);
  const step = Math.max(1, Math.floor(input.n / steps));
  try {
    const result = await drain(system, input.n, input.concurrency, (count) => {
      done = count;
      if (count % step === 0 || count === input.n) sample();
    });
    const output: MemoryChildOutput = { tasksPerSecond: result.tasksPerSecond, peakRssBytes, samples };
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } finally {
    clearInterval(timer);
    await system.teardown();
  }
};

// Exit explicitly: a library's leftover timer or socket must not keep the child, and so the parent, waiting.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
