/**
 * `npm run bench`: runs every selected system through every selected
 * workload, one system after another against one database, then prints a
 * markdown table and writes it with the figures to results/latest.json.
 * Progress goes to stderr, the table to stdout.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { devDatabase } from "../test/support/devDatabase.ts";
import { parseOptions, usage } from "./options.ts";
import { findSystem, systemEntries } from "./registry.ts";
import { markdown, ratiosOf, type Machine, type RunResults } from "./report.ts";
import { withClient } from "./withClient.ts";
import { workloads } from "./workloads.ts";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
/** Libraries whose installed versions the results name. */
const measuredPackages = ["graphile-worker", "pg-boss", "bullmq", "pg"];

/** The middle figure (the mean of the middle two for an even count): one disturbed round does not move it. */
const median = (figures: readonly number[]): number => {
  const sorted = [...figures].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

const log = (message: string): void => {
  process.stderr.write(`${message}\n`);
};

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const installedVersions = async (): Promise<Record<string, string>> => {
  const versions: Record<string, string> = {};
  for (const name of measuredPackages) {
    try {
      const json = JSON.parse(
        await readFile(join(repoRoot, "node_modules", name, "package.json"), "utf8"),
      ) as {
        version?: string;
      };
      if (json.version !== undefined) versions[name] = json.version;
    } catch {
      // Not installed: it is simply not named.
    }
  }
  return versions;
};

const describeMachine = async (url: string): Promise<Machine> => {
  const postgres = await withClient(url, async (client) => {
    const result = await client.query<{ version: string }>("select version()");
    return result.rows[0]?.version ?? "unknown";
  });
  const url0 = process.env["DATABASE_URL"];
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    postgres,
    loadAverage: loadavg()[0] ?? 0,
    database: url0 !== undefined && url0 !== "" ? "DATABASE_URL" : "embedded",
  };
};

/** Flushes dirty pages between workloads so a checkpoint is less likely to land inside one. Needs superuser; skipped without. */
const checkpoint = (url: string): Promise<void> =>
  withClient(url, async (client) => {
    await client.query("checkpoint");
  }).catch(() => undefined);

const main = async (): Promise<void> => {
  const options = parseOptions(process.argv.slice(2), process.env);
  if (options === "help") {
    log(usage);
    return;
  }
  const entries = options.systems?.map(findSystem) ?? systemEntries;
  const chosen =
    options.workloads?.map((name) => {
      const workload = workloads.find((w) => w.name === name);
      if (workload === undefined) {
        throw new Error(`unknown workload ${name}; known: ${workloads.map((w) => w.name).join(", ")}`);
      }
      return workload;
    }) ?? workloads;

  const database = await devDatabase();
  try {
    const startedAt = new Date().toISOString();
    const machine = await describeMachine(database.url);
    log(`${machine.postgres}; ${machine.cores} cores; scale ${options.scale}`);
    const values: Record<string, Record<string, number>> = {};
    const samples: Record<string, Record<string, number[]>> = {};
    const errors: Record<string, Record<string, string>> = {};

    for (const entry of entries) {
      const own: Record<string, number> = {};
      const ownSamples: Record<string, number[]> = {};
      const failed: Record<string, string> = {};
      values[entry.name] = own;
      samples[entry.name] = ownSamples;
      errors[entry.name] = failed;
      const system = await entry.create();
      try {
        await system.setup(database.url, true);
      } catch (error) {
        for (const workload of chosen) failed[workload.name] = `setup: ${messageOf(error)}`;
        log(`${entry.name}: setup failed: ${messageOf(error)}`);
        await system.teardown().catch(() => undefined);
        continue;
      }
      for (const workload of chosen) {
        try {
          const rounds: Readonly<Record<string, number>>[] = [];
          for (let round = 1; round <= options.repeat; round += 1) {
            log(`${entry.name}: ${workload.name} ${round}/${options.repeat}…`);
            await system.reset();
            await checkpoint(database.url);
            const figures = await workload.run({
              system,
              url: database.url,
              scale: options.scale,
              concurrency: options.concurrency,
            });
            rounds.push(figures);
            log(
              `  ${Object.entries(figures)
                .map(([k, v]) => `${k} ${v.toFixed(2)}`)
                .join(", ")}`,
            );
          }
          for (const metric of workload.metrics) {
            const figures = rounds.map((r) => r[metric.key]).filter((v): v is number => v !== undefined);
            ownSamples[metric.key] = figures;
            if (figures.length > 0) own[metric.key] = median(figures);
          }
        } catch (error) {
          failed[workload.name] = messageOf(error);
          log(`  failed: ${messageOf(error)}`);
        }
      }
      // Leave no rows behind: a million finished rows would keep autovacuum busy during the next system's run.
      await system.reset().catch(() => undefined);
      await system.teardown();
    }

    const systems = entries.map((e) => e.name);
    const metrics = chosen.flatMap((w) => w.metrics);
    const results: RunResults = {
      startedAt,
      machine,
      scale: options.scale,
      concurrency: options.concurrency,
      repeat: options.repeat,
      subject: options.subject,
      systems,
      versions: await installedVersions(),
      workloads: chosen.map((w) => ({ name: w.name, description: w.describe(options.scale) })),
      metrics,
      values,
      samples,
      errors,
      ratios: ratiosOf(options.subject, systems, metrics, values),
    };
    const table = markdown(results);
    await mkdir(dirname(options.out), { recursive: true });
    await writeFile(options.out, `${JSON.stringify({ ...results, markdown: table }, null, 2)}\n`);
    process.stdout.write(`${table}\n`);
    log(`wrote ${options.out}`);
  } finally {
    await database.stop();
  }
};

// Exit explicitly once done: a library's leftover timer must not keep a finished run open.
main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(messageOf(error));
    process.exit(1);
  },
);
