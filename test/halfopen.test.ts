import assert from "node:assert/strict";
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { defineJob, Underway, type TaskContext } from "../src/index.ts";
import { summary } from "./support/faults.ts";
import { eventually, recordingLogger, useDatabase } from "./support/harness.ts";

const N = t.type({ n: t.number });
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * A TCP proxy to PostgreSQL that can go silent without closing anything:
 * bytes of a black-holed connection are dropped in both directions while
 * both sockets stay open, as with a peer behind a dead NAT entry.
 */
class SilentProxy {
  private readonly connections: Array<{ client: Socket; upstream: Socket; silent: boolean }> = [];
  private partitioned = false;
  accepted = 0;
  /** Connections whose client side is still open. */
  open = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<SilentProxy> {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("proxy has no port");
    const proxy = new SilentProxy(server, address.port);
    server.on("connection", (client) => proxy.accept(client, target));
    return proxy;
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    this.accepted += 1;
    this.open += 1;
    client.on("close", () => (this.open -= 1));
    const upstream = tcpConnect(target.port, target.host);
    // A connection opened during a partition never comes through.
    const connection = { client, upstream, silent: this.partitioned };
    this.connections.push(connection);
    const forward = (from: Socket, to: Socket) => {
      from.on("data", (bytes) => {
        if (!connection.silent && !this.partitioned) to.write(bytes);
      });
      from.on("end", () => {
        if (!connection.silent) to.end();
      });
      from.on("error", () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
  }

  /** Silences every connection open now, for good; new ones work. */
  silenceOpenConnections(): void {
    for (const connection of this.connections) connection.silent = true;
  }

  /** While on, nothing gets through, and connections opened meanwhile stay silent. */
  partition(on: boolean): void {
    this.partitioned = on;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.connections) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((done) => this.server.close(done));
  }
}

describe("half-open LISTEN connection", () => {
  const { db } = useDatabase("halfopen");

  /** A silent-able proxy to the test database, and the database's URL through it. */
  const proxied = async () => {
    const direct = new URL(db().url);
    const proxy = await SilentProxy.start({ host: direct.hostname, port: Number(direct.port || 5432) });
    const throughProxy = new URL(db().url);
    throughProxy.hostname = "127.0.0.1";
    throughProxy.port = String(proxy.port);
    return { proxy, throughProxy };
  };

  it("is detected and replaced; tasks start by polling meanwhile, and by NOTIFY again after", async () => {
    const { proxy, throughProxy } = await proxied();
    const log = recordingLogger();
    // Queries go straight to PostgreSQL; only the LISTEN connection goes through the proxy.
    const underway = await Underway.connect({
      pool: db().pool,
      logger: log,
      listener: { checkIntervalMs: 500, connection: { connectionString: throughProxy.toString() } },
    });
    try {
      const started = new Map<string, number>();
      const handler = async (_: { n: number }, { taskId }: TaskContext) => {
        started.set(taskId, Date.now());
        return null;
      };
      const slow = underway.job(defineJob({ queue: "slowpoll", input: N }));
      const fast = underway.job(defineJob({ queue: "fastpoll", input: N }));
      // The slow queue polls once a minute: only a NOTIFY (or a reconnect) starts its tasks soon.
      const workers = [
        slow.start(handler, { pollIntervalMs: 60_000 }),
        fast.start(handler, { pollIntervalMs: 500 }),
      ];
      await underway.listening();
      await sleep(200);

      const enqueue = async (job: typeof slow) => ({ id: await job.enqueue({ n: 0 }), at: Date.now() });
      const startLatency = async (job: typeof slow, withinMs: number, what: string): Promise<number> => {
        const { id, at } = await enqueue(job);
        await eventually(() => started.has(id), withinMs, what);
        return (started.get(id) ?? 0) - at;
      };
      const finished = async (): Promise<void> => {
        await eventually(async () => {
          const { rows } = await db().pool.query(
            "select 1 from underway.task_all where state <> 'succeeded' and queue_name = 'slowpoll'",
          );
          return rows.length === 0;
        });
        // A slot freed by a finishing task wakes a claim too: let that pass first.
        await sleep(100);
      };
      const notified = async (what: string) => {
        const latency = await startLatency(slow, 1_000, what);
        assert.ok(latency < 500, `${what}: started after ${latency} ms`);
        await finished();
        return latency;
      };

      const healthy = await notified("a task started by NOTIFY through the proxy");

      // 1. The LISTEN connection goes silent; new connections still work.
      const acceptedBefore = proxy.accepted;
      proxy.silenceOpenConnections();
      const silencedAt = Date.now();
      const waiting = await enqueue(slow);
      const polled = await startLatency(fast, 1_500, "a task started by polling while LISTEN is silent");
      await eventually(() => started.has(waiting.id), 5_000, "the reconnect wake-up");
      const replacedMs = (started.get(waiting.id) ?? 0) - silencedAt;
      assert.ok(proxy.accepted > acceptedBefore, "a new LISTEN connection was opened");
      assert.ok(log.lines.some((line) => line.message.startsWith("LISTEN connection lost")));
      await finished();
      const afterSilence = await notified("a task started by NOTIFY on the new connection");

      // 2. Nothing gets through for 3 s, and connection attempts meanwhile hang.
      proxy.partition(true);
      const partitionedAt = Date.now();
      const stranded = await enqueue(slow);
      const polledInPartition = await startLatency(
        fast,
        1_500,
        "a task started by polling during the partition",
      );
      await sleep(3_000 - (Date.now() - partitionedAt));
      assert.ok(!started.has(stranded.id), "no NOTIFY can arrive during the partition");
      proxy.partition(false);
      const healedAt = Date.now();
      await eventually(() => started.has(stranded.id), 10_000, "the reconnect after the partition");
      const healedMs = (started.get(stranded.id) ?? 0) - healedAt;
      await finished();
      const afterPartition = await notified("a task started by NOTIFY after the partition");

      await Promise.all(workers.map((worker) => worker.stop()));
      const { rows } = await db().pool.query<{ state: string; n: number }>(
        "select state::text, count(*)::int as n from underway.task_all group by state",
      );
      assert.deepEqual(rows, [{ state: "succeeded", n: started.size }]);
      summary("halfopen", {
        tasks: started.size,
        "notify ms": healthy,
        "poll ms while silent": polled,
        "replaced after ms": replacedMs,
        "notify ms after": afterSilence,
        "poll ms in partition": polledInPartition,
        "reconnected after heal ms": healedMs,
        "notify ms after heal": afterPartition,
        "proxied connections": proxy.accepted,
      });
    } finally {
      await underway.close();
      await proxy.close();
    }
  });

  it("close() does not wait on a silent LISTEN connection", async () => {
    const { proxy, throughProxy } = await proxied();
    try {
      const underway = await Underway.connect({
        pool: db().pool,
        logger: recordingLogger(),
        listener: { checkIntervalMs: 5_000, connection: { connectionString: throughProxy.toString() } },
      });
      const worker = underway
        .job(defineJob({ queue: "closing", input: N }))
        .start(async () => null, { pollIntervalMs: 100 });
      await underway.listening();
      proxy.silenceOpenConnections();
      const closing = Date.now();
      await underway.close();
      await worker.stop();
      const closeMs = Date.now() - closing;
      assert.ok(closeMs < 2_000, `close took ${closeMs} ms`);
    } finally {
      await proxy.close();
    }
  });

  it("close() during a reconnect leaves no LISTEN connection behind", async () => {
    const { proxy, throughProxy } = await proxied();
    try {
      const log = recordingLogger();
      const underway = await Underway.connect({
        pool: db().pool,
        logger: log,
        listener: { checkIntervalMs: 300, connection: { connectionString: throughProxy.toString() } },
      });
      const worker = underway
        .job(defineJob({ queue: "reconnecting", input: N }))
        .start(async () => null, { pollIntervalMs: 100 });
      await underway.listening();
      proxy.partition(true);
      await eventually(
        () => log.lines.some((line) => line.message.startsWith("LISTEN connection lost")),
        5_000,
        "the lost connection noticed",
      );
      await worker.stop();
      await underway.close();
      proxy.partition(false);
      await sleep(1_500);
      assert.equal(proxy.open, 0, "a LISTEN connection outlived close()");
    } finally {
      await proxy.close();
    }
  });
});
