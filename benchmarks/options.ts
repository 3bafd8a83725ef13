import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export interface BenchOptions {
  /** Multiplies every workload's size; 1 is issue 5's sizes. */
  readonly scale: number;
  /** Registry names to run, in the registry's order when not given. */
  readonly systems: readonly string[] | undefined;
  readonly workloads: readonly string[] | undefined;
  /** The system whose figures are shown as ratios to each peer's. */
  readonly subject: string;
  readonly concurrency: number;
  /** Rounds of every workload; the report shows each figure's median. */
  readonly repeat: number;
  readonly out: string;
}

const list = (value: string | undefined): readonly string[] | undefined =>
  value === undefined || value === ""
    ? undefined
    : value
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");

const positive = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} wants a positive number, got ${value}`);
  return n;
};

export const usage = `npm run bench -- [options]
  --scale X         sizes times X (default 1, or BENCH_SCALE); 0.1 runs in about a minute
  --systems a,b     systems to run (default all, or BENCH_SYSTEMS)
  --workloads a,b   workloads to run (default all)
  --subject name    system shown as ratios to the others (default underway)
  --concurrency N   handlers in flight per worker (default 10)
  --repeat N        rounds of every workload, reporting the median (default 1, or BENCH_REPEAT)
  --out path        results file (default benchmarks/results/latest.json)
DATABASE_URL selects the database; without it an embedded PostgreSQL is started.`;

export const parseOptions = (argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions | "help" => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      scale: { type: "string" },
      systems: { type: "string" },
      workloads: { type: "string" },
      subject: { type: "string" },
      concurrency: { type: "string" },
      repeat: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help === true) return "help";
  return {
    scale: positive("scale", values.scale ?? env["BENCH_SCALE"] ?? "1"),
    systems: list(values.systems ?? env["BENCH_SYSTEMS"]),
    workloads: list(values.workloads),
    subject: values.subject ?? "underway",
    concurrency: Math.round(positive("concurrency", values.concurrency ?? "10")),
    repeat: Math.round(positive("repeat", values.repeat ?? env["BENCH_REPEAT"] ?? "1")),
    out: values.out ?? fileURLToPath(new URL("./results/latest.json", import.meta.url)),
  };
};
