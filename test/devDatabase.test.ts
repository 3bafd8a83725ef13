// The embedded dev database (test/support/devDatabase.ts) leaves nothing
// behind: real servers in real child processes, signalled and killed. Each
// test uses a root folder of its own, never `.data/`, where the server of the
// running suite may live.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { eventually } from "./support/harness.ts";
import { groupRunning } from "./support/postgresProcess.ts";
import { spawnFixture, type FixtureProcess } from "./support/processes.ts";
import { removeStaleDevDatabases } from "./support/staleDevDatabases.ts";

interface Started {
  readonly folder: string;
  readonly postmaster: number;
  readonly query: number;
}

const roots: string[] = [];
const fixtures: FixtureProcess[] = [];

const newRoot = async (): Promise<string> => {
  const root = await mkdtemp(join(tmpdir(), "underway-devdb-test-"));
  await chmod(root, 0o755); // as root, the server's `postgres` user must get through
  roots.push(root);
  return root;
};

/** Starts the fixture with the embedded server under `root`; resolves once it serves queries. */
const start = async (
  root: string,
  graceful = false,
): Promise<{ fixture: FixtureProcess; server: Started }> => {
  const fixture = spawnFixture("devDatabase", { root, graceful });
  fixtures.push(fixture);
  await fixture.waitFor((line) => "folder" in line, 60_000, "the embedded server");
  const server = fixture.lines.find((line) => "folder" in line) as unknown as Started;
  assert.equal(server.query, 1);
  assert.ok(groupRunning(server.postmaster), "the server runs");
  return { fixture, server };
};

const gone = (root: string, what: string): Promise<void> =>
  eventually(async () => (await readdir(root)).length === 0, 15_000, what);

after(async () => {
  for (const fixture of fixtures) fixture.child.kill("SIGKILL");
  // Whatever a failed test left: stop the servers, remove the folders.
  for (const root of roots) {
    await removeStaleDevDatabases(root).catch(() => []);
    await rm(root, { recursive: true, force: true });
  }
});

describe("embedded dev database", () => {
  it("Ctrl-C (SIGINT) of its process stops the server and removes its folder", async () => {
    const root = await newRoot();
    const { fixture, server } = await start(root);
    fixture.child.kill("SIGINT");
    // No handler of the process's own: it dies of the signal, as Node's default.
    assert.equal(await fixture.exited, "SIGINT");
    await gone(root, "the server folder removed");
    assert.equal(groupRunning(server.postmaster), false, "no server process left");
  });

  it("an application's own SIGINT handler runs first, against a live server; the server goes at its exit", async () => {
    const root = await newRoot();
    const { fixture, server } = await start(root, true);
    fixture.child.kill("SIGINT");
    assert.equal(await fixture.exited, 0);
    assert.deepEqual(
      fixture.lines.find((line) => "shutdownQuery" in line),
      { shutdownQuery: 1 },
      "the graceful shutdown still reached the server",
    );
    await gone(root, "the server folder removed");
    assert.equal(groupRunning(server.postmaster), false, "no server process left");
  });

  it("after kill -9 of its process (and its watchdog) the next start stops the orphan and removes its folder; a live process's server is left alone", async () => {
    const root = await newRoot();
    const [alive, killed] = await Promise.all([start(root), start(root)]);
    const { watchdog } = JSON.parse(readFileSync(join(killed.server.folder, "owner.json"), "utf8")) as {
      watchdog: number;
    };
    process.kill(watchdog, "SIGKILL");
    killed.fixture.child.kill("SIGKILL");
    assert.equal(await killed.fixture.exited, "SIGKILL");
    await new Promise((done) => setTimeout(done, 300));
    assert.ok(groupRunning(killed.server.postmaster), "an orphaned server");
    assert.ok(existsSync(killed.server.folder), "and its folder");

    const next = await start(root);
    assert.equal(groupRunning(killed.server.postmaster), false, "the orphan was stopped");
    assert.equal(existsSync(killed.server.folder), false, "its folder was removed");
    assert.ok(groupRunning(alive.server.postmaster), "the live process's server still runs");
    assert.ok(existsSync(join(alive.server.folder, "data", "PG_VERSION")), "with its data");

    alive.fixture.child.kill("SIGINT");
    next.fixture.child.kill("SIGINT");
    await Promise.all([alive.fixture.exited, next.fixture.exited]);
    await gone(root, "both server folders removed");
  });
});
