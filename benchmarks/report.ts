import type { Metric } from "./metric.ts";

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly platform: string;
  readonly node: string;
  /** `select version()`, in full. */
  readonly postgres: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  readonly loadAverage: number;
  /** Where the database came from: `DATABASE_URL` or the embedded server. */
  readonly database: "DATABASE_URL" | "embedded";
}

export interface RunResults {
  readonly startedAt: string;
  readonly machine: Machine;
  readonly scale: number;
  readonly concurrency: number;
  /** Rounds of each workload; `values` holds the median of the rounds. */
  readonly repeat: number;
  readonly subject: string;
  readonly systems: readonly string[];
  /** Installed versions of the libraries measured. */
  readonly versions: Readonly<Record<string, string>>;
  readonly workloads: readonly { readonly name: string; readonly description: string }[];
  readonly metrics: readonly Metric[];
  /** By system, then by metric key: the median of the rounds. Missing where the workload failed. */
  readonly values: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** By system, then by metric key: every round's figure. */
  readonly samples: Readonly<Record<string, Readonly<Record<string, readonly number[]>>>>;
  /** By system, then by workload name. */
  readonly errors: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Subject ÷ peer by peer, then by metric key; empty when the subject did not run. */
  readonly ratios: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

const format = (value: number | undefined, unit: Metric["unit"]): string => {
  if (value === undefined) return "error";
  if (!Number.isFinite(value)) return String(value);
  switch (unit) {
    case "tasks/s":
    case "enqueues/s":
      return Math.round(value).toLocaleString("en-US");
    case "ms":
      return value.toFixed(2);
    case "MB":
    case "%":
      // toFixed keeps the sign of a value that rounds to zero; "-0.0" reads as a finding.
      return value.toFixed(1).replace(/^-(0\.0)$/, "$1");
  }
};

const arrow = (metric: Metric): string => (metric.better === "higher" ? "↑" : "↓");

/** Subject ÷ peer for every metric where the ratio means something and both figures exist. */
export const ratiosOf = (
  subject: string,
  systems: readonly string[],
  metrics: readonly Metric[],
  values: RunResults["values"],
): RunResults["ratios"] => {
  const own = values[subject];
  if (own === undefined) return {};
  const ratios: Record<string, Record<string, number>> = {};
  for (const peer of systems.filter((s) => s !== subject)) {
    const theirs = values[peer] ?? {};
    const row: Record<string, number> = {};
    for (const metric of metrics.filter((m) => m.ratio)) {
      const a = own[metric.key];
      const b = theirs[metric.key];
      if (a !== undefined && b !== undefined && b !== 0) row[metric.key] = a / b;
    }
    ratios[peer] = row;
  }
  return ratios;
};

const table = (header: readonly string[], align: readonly string[], rows: readonly string[][]): string =>
  [`| ${header.join(" | ")} |`, `| ${align.join(" | ")} |`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join(
    "\n",
  );

const shortVersion = (postgres: string): string => /^PostgreSQL \S+/.exec(postgres)?.[0] ?? postgres;

export const markdown = (results: RunResults): string => {
  const { machine, systems, metrics, values, errors, ratios, subject } = results;
  const lines: string[] = [];
  lines.push(
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.platform}, ` +
      `Node ${machine.node}, ${shortVersion(machine.postgres)} (${machine.database}), ` +
      `load average ${machine.loadAverage.toFixed(2)} at start. ` +
      `Scale ${results.scale}, concurrency ${results.concurrency}, ` +
      `${results.repeat === 1 ? "one round" : `median of ${results.repeat} rounds`}, ${results.startedAt}.`,
    "",
  );
  lines.push(
    table(
      ["workload", "unit", "better", ...systems],
      ["---", "---", ":-:", ...systems.map(() => "---:")],
      metrics.map((m) => [
        m.label,
        m.unit,
        arrow(m),
        ...systems.map((s) => format(values[s]?.[m.key], m.unit)),
      ]),
    ),
  );
  const peers = Object.keys(ratios);
  if (peers.length > 0) {
    lines.push("", `Ratios, ${subject} ÷ peer (↑ rows: above 1 is better; ↓ rows: below 1 is better):`, "");
    lines.push(
      table(
        ["workload", "better", ...peers.map((p) => `÷ ${p}`)],
        ["---", ":-:", ...peers.map(() => "---:")],
        metrics
          .filter((m) => m.ratio)
          .map((m) => {
            const cells = peers.map((p) => {
              const r = ratios[p]?.[m.key];
              return r === undefined ? "–" : `${r.toFixed(2)}x`;
            });
            return [m.label, arrow(m), ...cells];
          }),
      ),
    );
  }
  const failures = systems.flatMap((s) =>
    Object.entries(errors[s] ?? {}).map(([workload, message]) => `- ${s}, ${workload}: ${message}`),
  );
  if (failures.length > 0) lines.push("", "Errors:", "", ...failures);
  lines.push("", "Workloads:", "", ...results.workloads.map((w) => `- ${w.name}: ${w.description}`));
  return lines.join("\n");
};
