import type { BenchSystem } from "./system.ts";

export interface SystemEntry {
  /** The name `--systems` selects it by, and the report's column: the same as the system's `name`. */
  readonly name: string;
  readonly create: () => Promise<BenchSystem>;
}

/**
 * Every system the harness knows, in the order a run measures them. Each is
 * imported lazily so the memory workload's child process loads only the
 * library it measures. To add one, add an entry.
 */
export const systemEntries: readonly SystemEntry[] = [
  { name: "underway", create: async () => (await import("./systems/underway.ts")).underway() },
  {
    name: "underway-tuned",
    create: async () => (await import("./systems/underway.ts")).underway({ prefetch: 500 }),
  },
  {
    // Unnamed statements, as behind PgBouncer in transaction mode (docs/scaling.md).
    name: "underway-unnamed",
    create: async () => (await import("./systems/underway.ts")).underway({ preparedStatements: false }),
  },
  {
    name: "graphile-worker",
    create: async () => (await import("./systems/graphileWorker.ts")).graphileWorker({ tuned: false }),
  },
  {
    name: "graphile-worker-tuned",
    create: async () => (await import("./systems/graphileWorker.ts")).graphileWorker({ tuned: true }),
  },
  { name: "pg-boss", create: async () => (await import("./systems/pgBoss.ts")).pgBoss({ batchSize: 10 }) },
  { name: "bullmq", create: async () => (await import("./systems/bullMq.ts")).bullMq() },
  { name: "raw-sql", create: async () => (await import("./systems/rawSql.ts")).rawSql() },
];

export const findSystem = (name: string): SystemEntry => {
  const entry = systemEntries.find((e) => e.name === name);
  if (entry === undefined) {
    throw new Error(`unknown system ${name}; known: ${systemEntries.map((e) => e.name).join(", ")}`);
  }
  return entry;
};
