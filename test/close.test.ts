import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { firstValueFrom, lastValueFrom, toArray } from "rxjs";
import { ClosedError, defineJob, silentLogger, Underway } from "../src/index.ts";
import { depsOf } from "../src/client/clientDeps.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";
import { spawnFixture } from "./support/processes.ts";

const { db } = useDatabase("close");

const count = async (table: string): Promise<number> => {
  const { rows } = await db().pool.query<{ n: number }>(`select count(*)::int as n from underway.${table}`);
  return rows[0]?.n ?? -1;
};

describe("close", () => {
  it("a process with a worker, outcomes$, a scheduler and retention exits by itself after close()", async () => {
    const child = spawnFixture("closeAll", { url: db().url }, { stderr: "capture" });
    // Starting tsx and migrating take a while on a busy machine: generous.
    await child.waitFor((line) => line["closed"] === true, 60_000, "close() to resolve");
    const closedAt = Date.now();
    const code = await Promise.race([
      child.exited,
      new Promise<"still running">((done) => setTimeout(() => done("still running"), 5_000)),
    ]);
    if (code === "still running") child.child.kill("SIGKILL");
    assert.equal(code, 0, `the child should exit by itself (stderr: ${child.stderr()})`);
    assert.ok(Date.now() - closedAt < 5_000);
    assert.deepEqual(
      child.lines.filter((line) => "result" in line || "completed" in line || "error" in line),
      [{ result: 42 }, { completed: true }],
      "the task's result, then outcomes$ completed without an error",
    );
    assert.equal(child.stderr(), "", "close() logs nothing");
    assert.equal(await count("outcome_listener"), 0, "the outcome registration is deleted");
    assert.equal(await count("queue_waiter"), 0, "the worker's registration is deleted");
  });
});

const N = t.type({ n: t.number });

/** A sync throw or a rejection, either way a ClosedError. */
const rejectsClosed = (call: () => unknown, what: string) =>
  assert.rejects(
    async () => call(),
    (error: unknown) => error instanceof ClosedError && error.message === "this Underway client is closed",
    what,
  );

describe("close, in process", () => {
  it("completes outcome streams and channels, rejects pending waits and every later call with ClosedError", async () => {
    const log = recordingLogger();
    const underway = await Underway.connect({ connectionString: db().url, logger: log });
    const job = underway.job(defineJob({ queue: "after", input: N }));
    // No worker: the task never finishes, so its waits are still pending at close.
    const id = await job.enqueue({ n: 1 });
    const outcomes = lastValueFrom(job.outcomes$.pipe(toArray()));
    const channel = lastValueFrom(depsOf(underway).listener.channel$("close_test").pipe(toArray()));
    await underway.listening();
    const pending = [
      rejectsClosed(() => job.outcome(id, { pollIntervalMs: 50 }), "outcome() pending at close"),
      rejectsClosed(() => job.result(id), "result() pending at close"),
    ];
    await underway.close();
    await Promise.all(pending);
    assert.deepEqual(await outcomes, [], "outcomes$ completes");
    assert.deepEqual(await channel, [], "channel$ completes");
    await rejectsClosed(() => job.enqueue({ n: 2 }), "enqueue");
    await rejectsClosed(() => job.enqueueMany([{ n: 3 }]), "enqueueMany");
    await rejectsClosed(() => job.outcome(id), "outcome");
    await rejectsClosed(() => job.start(async ({ n }) => n), "start");
    await underway.close(); // idempotent
    assert.deepEqual(
      log.lines.filter((line) => line.level !== "info"),
      [],
      "nothing warned about a pool used after its end",
    );
  });
});

/** The test database's URL with one thing changed. */
const urlWith = (change: (url: URL) => void): string => {
  const url = new URL(db().url);
  change(url);
  return url.toString();
};

describe("LISTEN and registrations (issue 9: items 11, 17, 20)", () => {
  it("a first LISTEN connect that fails is retried: notifications start once the server is reachable", async () => {
    // A port where nothing listens yet: the LISTEN connection is refused.
    const reserve = net.createServer();
    await new Promise<void>((done) => reserve.listen(0, "127.0.0.1", done));
    const port = (reserve.address() as net.AddressInfo).port;
    await new Promise((done) => reserve.close(done));
    const log = recordingLogger();
    const underway = await Underway.connect({
      pool: db().pool,
      logger: log,
      listener: {
        connection: {
          connectionString: urlWith((url) => {
            url.hostname = "127.0.0.1";
            url.port = String(port);
          }),
        },
      },
    });
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const target = new URL(db().url);
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => undefined);
        socket.on("close", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    try {
      const payloads: string[] = [];
      const sub = depsOf(underway)
        .listener.channel$("close_retry")
        .subscribe((payload) => payloads.push(payload));
      await underway.listening();
      assert.ok(
        log.lines.some((line) => line.message.startsWith("LISTEN is unavailable")),
        "the failed connect is reported",
      );
      await new Promise<void>((done) => proxy.listen(port, "127.0.0.1", done));
      await eventually(
        async () => {
          await db().pool.query("select pg_notify('close_retry', 'hello')");
          return payloads.length > 0;
        },
        20_000,
        "a notification after the LISTEN connection came up",
      );
      sub.unsubscribe();
    } finally {
      await underway.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => proxy.close(done));
    }
  });

  it("after a reconnect of the LISTEN connection, the outcome registration is renewed at once", async () => {
    const appName = `close_listen_${process.pid}`;
    const underway = await Underway.connect({
      pool: db().pool,
      logger: silentLogger,
      listener: {
        checkIntervalMs: 500,
        connection: { connectionString: urlWith((url) => url.searchParams.set("application_name", appName)) },
      },
    });
    try {
      const job = underway.job(defineJob({ queue: "renew", input: N, output: t.number }));
      const handler = async ({ n }: { n: number }) => n + 1;
      const outcomes: number[] = [];
      const sub = job.outcomes$.subscribe((outcome) => {
        if (outcome._tag === "succeeded") outcomes.push(outcome.output);
      });
      await underway.listening();
      const reconnected = firstValueFrom(depsOf(underway).listener.reconnected$);
      // What a server crash-restart does: the unlogged table is empty and the LISTEN connection gone.
      await db().pool.query("delete from underway.outcome_listener");
      await db().pool.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1",
        [appName],
      );
      await reconnected;
      const renewedWithin = Date.now();
      await eventually(
        async () => (await count("outcome_listener")) === 1,
        5_000,
        "the registration to be back",
      );
      assert.ok(Date.now() - renewedWithin < 5_000, "renewed well before the 20 s renewal");
      const worker = job.start(handler, { pollIntervalMs: 100 });
      await job.enqueue({ n: 41 });
      await eventually(() => outcomes.includes(42), 10_000, "the outcome through outcomes$");
      sub.unsubscribe();
      await worker.stop();
    } finally {
      await underway.close();
    }
  });

  it("lapsed registrations of exited processes are deleted by the next process that registers", async () => {
    await db().pool.query(
      "insert into underway.outcome_listener (listener_id, expires_at) values ('exited', now() - interval '1 minute')",
    );
    await db().pool.query(
      `insert into underway.queue_waiter (queue_name, worker_id, expires_at)
       values ('elsewhere', 'exited-worker', now() - interval '1 minute')`,
    );
    const underway = await Underway.connect({ pool: db().pool, logger: silentLogger });
    try {
      const job = underway.job(defineJob({ queue: "lapsed", input: N }));
      const handler = async ({ n }: { n: number }) => n;
      const sub = job.outcomes$.subscribe();
      await underway.listening();
      const worker = job.start(handler, { pollIntervalMs: 100 });
      await eventually(
        async () => {
          const { rows } = await db().pool.query<{ n: number }>(
            `select (select count(*) from underway.outcome_listener where listener_id = 'exited')
                  + (select count(*) from underway.queue_waiter where worker_id = 'exited-worker') as n`,
          );
          return Number(rows[0]?.n) === 0;
        },
        10_000,
        "the lapsed rows to be deleted",
      );
      assert.equal(await count("outcome_listener"), 1, "the live registration stays");
      sub.unsubscribe();
      await worker.stop();
    } finally {
      await underway.close();
    }
  });
});
