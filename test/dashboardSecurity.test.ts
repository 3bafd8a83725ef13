// The dashboard against hostile requests, over raw HTTP (node:http, so
// Host and the proxy headers are whatever the test says) and through the
// bare Fetch handler: DNS rebinding, proxy headers, oversized bodies,
// malformed escapes; and the overview and the scrape with thousands of queues.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { connect as connectSocket } from "node:net";
import { after, before, describe, it } from "node:test";
import * as t from "io-ts";
import {
  dashboard,
  defineJob,
  prometheusMetrics,
  serveDashboard,
  type DashboardServer,
  type Underway,
} from "../src/index.ts";
import { useDatabase } from "./support/harness.ts";

const mail = defineJob({ queue: "mail", input: t.type({ secret: t.string }) });

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One request with exactly these headers (Host included), as a rebound page's browser would send it. */
const raw = (
  server: DashboardServer,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: "127.0.0.1",
        port: server.port,
        path,
        method: options.method ?? "GET",
        headers: options.headers,
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on("error", reject);
    request.end(options.body);
  });

const tokenOf = (page: string): string => {
  const token = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(token !== undefined, "the page carries a CSRF token");
  return token;
};

const form = { "content-type": "application/x-www-form-urlencoded" };

describe("dashboard against hostile requests", () => {
  const { connect } = useDatabase("dashboard_security");
  let underway: Underway;
  let server: DashboardServer;
  let taskId: string;
  let own: string;

  before(async () => {
    underway = await connect();
    server = await serveDashboard(underway);
    own = `127.0.0.1:${server.port}`;
    taskId = await underway.job(mail).enqueue({ secret: "s3cret-input" });
  });
  after(() => server.close());

  it("answers no Host but its own: a rebound attacker.example reads nothing and changes nothing", async () => {
    const attacker = `attacker.example:${server.port}`;
    const page = await raw(server, `/tasks/${taskId}`, { headers: { host: attacker } });
    assert.equal(page.status, 403);
    assert.match(page.body, /allowedHosts/);
    assert.doesNotMatch(page.body, /s3cret|csrf/);
    // Another port of a loopback name is another origin, too.
    assert.equal((await raw(server, "/", { headers: { host: `localhost:${server.port + 1}` } })).status, 403);
    // Its own names are answered, and the token they give does not help the attacker.
    for (const host of [own, `localhost:${server.port}`]) {
      const ok = await raw(server, `/tasks/${taskId}`, { headers: { host } });
      assert.equal(ok.status, 200, host);
      assert.match(ok.body, /s3cret-input/);
    }
    const token = tokenOf((await raw(server, "/", { headers: { host: own } })).body);
    const pause = await raw(server, "/queues/mail/pause", {
      method: "POST",
      headers: { ...form, host: attacker, origin: `http://${attacker}` },
      body: new URLSearchParams({ csrf: token }).toString(),
    });
    assert.equal(pause.status, 403);
    const bulk = await raw(server, "/tasks/bulk", {
      method: "POST",
      headers: { ...form, host: attacker, origin: `http://${attacker}` },
      body: new URLSearchParams({
        csrf: token,
        do: "delete:matching",
        state: "pending",
        confirm: "1",
      }).toString(),
    });
    assert.equal(bulk.status, 403);
    assert.equal(await underway.queuePausedAt("mail"), null);
    assert.equal((await underway.ops.task(taskId))?.state, "pending");
  });

  it("the bare handler answers loopback names and allowedHosts only", async () => {
    const handler = dashboard(underway, { authorize: () => "admin", allowedHosts: ["ops.example.com"] });
    const get = async (host: string) =>
      (await handler(new Request(`http://${host}/tasks/${taskId}`, { headers: { host } }))).status;
    assert.equal(await get("attacker.example"), 403);
    assert.equal(await get("attacker.example:8080"), 403);
    assert.equal(await get("127.0.0.1:3000"), 200);
    assert.equal(await get("[::1]:3000"), 200);
    assert.equal(await get("ops.example.com"), 200);
    assert.equal(await get("ops.example.com:8443"), 200);
    assert.equal(await get("sub.ops.example.com"), 403);
  });

  it("a write needs an Origin naming the Host; X-Forwarded-Host is not believed", async () => {
    const open = await serveDashboard(underway, { authorize: () => "admin" });
    try {
      const host = `127.0.0.1:${open.port}`;
      const token = tokenOf((await raw(open, "/", { headers: { host } })).body);
      const pause = (headers: Record<string, string>) =>
        raw(open, "/queues/mail/pause", {
          method: "POST",
          headers: { ...form, host, ...headers },
          body: new URLSearchParams({ csrf: token }).toString(),
        });
      assert.equal((await pause({})).status, 403, "no Origin");
      assert.equal((await pause({ origin: "null" })).status, 403, "an opaque origin");
      assert.equal(
        (await pause({ origin: "http://evil.example", "x-forwarded-host": "evil.example" })).status,
        403,
        "a client-sent X-Forwarded-Host",
      );
      assert.equal(await underway.queuePausedAt("mail"), null);
      assert.equal((await pause({ origin: `http://${host}` })).status, 303);
      assert.ok((await underway.queuePausedAt("mail")) instanceof Date);
      await underway.resumeQueue("mail");
    } finally {
      await open.close();
    }
  });

  it("the default authorize denies a request carrying any proxy header", async () => {
    assert.equal((await raw(server, "/", { headers: { host: own } })).status, 200);
    for (const [name, value] of [
      ["x-real-ip", "203.0.113.9"],
      ["x-forwarded-host", "ops.example.com"],
      ["x-forwarded-proto", "https"],
      ["via", "1.1 nginx"],
      ["forwarded", "for=203.0.113.9"],
      ["x-forwarded-for", "203.0.113.9"],
      ["x-client-ip", "203.0.113.9"],
      ["cf-connecting-ip", "203.0.113.9"],
      ["true-client-ip", "203.0.113.9"],
    ] as const)
      assert.equal((await raw(server, "/", { headers: { host: own, [name]: value } })).status, 403, name);
  });

  it("the bare handler refuses a body over 1 MB with 413, reading little more than 1 MB of it", async () => {
    const handler = dashboard(underway, { authorize: () => "admin" });
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    // 200 MB, made as it is read: what a Deno, Bun or hono host hands over.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= 200 * 1024 * 1024) return controller.close();
        pulled += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await handler(
      new Request("http://127.0.0.1:3000/queues/mail/pause", {
        method: "POST",
        body,
        duplex: "half",
        headers: { ...form, host: "127.0.0.1:3000", origin: "http://127.0.0.1:3000" },
      } as RequestInit),
    );
    assert.equal(response.status, 413);
    assert.ok(pulled < 2 * 1024 * 1024, `read ${pulled} bytes`);
    // A declared length over the limit is refused before any is read.
    const declared = await handler(
      new Request("http://127.0.0.1:3000/queues/mail/pause", {
        method: "POST",
        body: "csrf=x",
        headers: {
          ...form,
          host: "127.0.0.1:3000",
          origin: "http://127.0.0.1:3000",
          "content-length": "5000000",
        },
      }),
    );
    assert.equal(declared.status, 413);
  });

  it("answers 400, not 500, to a Host it cannot parse, and serves an absolute-form target by its path", async () => {
    // Raw bytes: node's client would not send these request lines and headers.
    const send = (head: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connectSocket(server.port, "127.0.0.1");
        let answer = "";
        socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
        socket.on("end", () => resolve(answer.split("\r\n")[0] ?? ""));
        socket.on("error", reject);
        socket.write(`${head}\r\nConnection: close\r\n\r\n`);
      });
    for (const host of ["", `a@${own}`, `${own}, x`, `${own}@attacker.example`])
      assert.equal(
        await send(`GET / HTTP/1.1\r\nHost: ${host}`),
        "HTTP/1.1 400 Bad Request",
        `Host: ${host}`,
      );
    assert.equal(await send(`GET http://${own}/ HTTP/1.1\r\nHost: ${own}`), "HTTP/1.1 200 OK");
    // The target's authority would override Host: the two must agree.
    assert.equal(await send(`GET http://evil.example/ HTTP/1.1\r\nHost: ${own}`), "HTTP/1.1 400 Bad Request");
    // Two Host headers: node keeps the first, a proxy may read the other.
    assert.equal(
      await send(`GET / HTTP/1.1\r\nHost: ${own}\r\nHost: evil.example`),
      "HTTP/1.1 400 Bad Request",
    );
    // A path that looks protocol-relative is a path, not another host's page.
    assert.equal(await send(`GET //evil.example/ HTTP/1.1\r\nHost: ${own}`), "HTTP/1.1 404 Not Found");
    assert.equal(
      await send(`GET http://${own}/ HTTP/1.1\r\nHost: attacker.example:${server.port}`),
      "HTTP/1.1 400 Bad Request",
    );
  });

  it("answers 400, not 500, to malformed % escapes in a job id or a queue name", async () => {
    assert.equal((await raw(server, "/jobs/%E0%A4%A", { headers: { host: own } })).status, 400);
    assert.equal((await raw(server, "/jobs/%zz", { headers: { host: own } })).status, 400);
    const token = tokenOf((await raw(server, "/", { headers: { host: own } })).body);
    const pause = await raw(server, "/queues/%E0%A4%A/pause", {
      method: "POST",
      headers: { ...form, host: own, origin: `http://${own}` },
      body: new URLSearchParams({ csrf: token }).toString(),
    });
    assert.equal(pause.status, 400);
  });
});

describe("dashboard and scrape with thousands of queues", () => {
  const { db, connect } = useDatabase("dashboard_queues");

  it("the overview pages through 2,000 queues under totals; the scrape has every one", async () => {
    const underway = await connect();
    const name = (n: number) => `q${String(n).padStart(5, "0")}`;
    await db().pool.query(
      `insert into underway.queue (name) select 'q' || lpad(n::text, 5, '0') from generate_series(0, 1999) n`,
    );
    // Two tasks in every tenth queue, 1,500 in the last one (past the exact-count bound).
    const insert = `insert into underway.task (queue_name, input, max_attempts, retry_initial_ms, retry_max_ms,
        retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms, run_at)
      select q, '{}', 5, 1000, 60000, 2, 0.5, 900000, 30000, 1209600000, now() - interval '1 minute'`;
    await db().pool.query(
      `${insert} from (select 'q' || lpad(n::text, 5, '0') as q from generate_series(0, 1999, 10) n
         cross join generate_series(1, 2)) s`,
    );
    await db().pool.query(`${insert} from (select 'q01999' as q from generate_series(1, 1500)) s`);
    const handler = dashboard(underway, { authorize: () => "admin" });
    const get = async (query: string) => {
      const response = await handler(new Request(`http://127.0.0.1/${query}`));
      assert.equal(response.status, 200, query);
      return response.text();
    };
    const rows = (page: string) => [...page.matchAll(/<tr data-queue="([^"]+)"/g)].map((m) => m[1]);
    const first = await get("");
    assert.deepEqual(rows(first).slice(0, 2), [name(0), name(1)]);
    assert.equal(rows(first).length, 100);
    assert.match(first, /All 2,000 queues/);
    // The totals are over all 2,000 queues; q01999's 1,500 pending make the due total an estimate.
    assert.match(first.replace(/\s+/g, " "), /id="queue-totals".*?data-count="due"> ?<span class="approx"/);
    const last = await get("?qpage=20");
    assert.equal(rows(last).at(-1), name(1999));
    assert.match(last.replace(/\s+/g, " "), /queues 1,901–2,000 of 2,000/);
    assert.deepEqual(rows(await get("?qs=q0123")), [
      name(1230),
      name(1231),
      name(1232),
      name(1233),
      name(1234),
      name(1235),
      name(1236),
      name(1237),
      name(1238),
      name(1239),
    ]);
    assert.equal(rows(await get("?qsort=pending"))[0], name(1999));
    // Every queue counted, exactly where small.
    const stats = await underway.ops.queues();
    assert.equal(stats.length, 2_000);
    assert.deepEqual(stats.find((q) => q.queue === name(10))?.counts.pending, {
      count: 2,
      approximate: false,
    });
    assert.deepEqual(stats.find((q) => q.queue === name(11))?.counts.pending, {
      count: 0,
      approximate: false,
    });
    assert.equal(stats.find((q) => q.queue === name(1999))?.counts.pending.approximate, true);
    const metrics = await prometheusMetrics(underway);
    try {
      const text = await metrics.text();
      assert.match(text, /underway_tasks\{queue="q00000",state="pending"\} 2\n/);
      assert.match(text, /underway_tasks\{queue="q00001",state="pending"\} 0\n/);
      assert.match(text, /underway_tasks\{queue="q01998",state="failed"\} 0\n/);
    } finally {
      metrics.stop();
    }
  });
});
