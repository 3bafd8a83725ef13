// Fair tenants (docs/flow-control.md): tasks with a `group` take turns at
// each claim, so one group's backlog does not hold back another's task.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { ConfigError, dashboard, defineJob, defineStepJob, done, next, Steps } from "../src/index.ts";
import { readQueryText, withSchema } from "../src/sql.ts";
import { summary } from "./support/faults.ts";
import { eventually, gate, useDatabase } from "./support/harness.ts";
import { logNestedPlans, nestedOf } from "./support/hotPathPlans.ts";

const Tenant = t.type({ tenant: t.string, n: t.number });
type Tenant = t.TypeOf<typeof Tenant>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const fairJob = (queue: string, extra: (input: Tenant) => Record<string, unknown> = () => ({})) =>
  defineJob({ queue, input: Tenant, optionsFor: (input) => ({ group: input.tenant, ...extra(input) }) });

const backlog = (tenant: string, count: number, from = 0): Tenant[] =>
  Array.from({ length: count }, (_, i) => ({ tenant, n: from + i }));

describe("fair tenants: groups take turns at each claim", () => {
  const { db, connect } = useDatabase("groups");

  it("a tenant with 50,000 pending holds back another tenant's task by at most one claim", async () => {
    const underway = await connect();
    // The backlog in one statement: every task with the same options (the
    // group given to the enqueue), so one array parameter of inputs.
    const job = underway.job(defineJob({ queue: "fair_big", input: Tenant }));
    await job.enqueueMany(backlog("big", 50_000), { group: "big" });
    // One worker, claims of at most `limit` tasks: four slots, no prefetch.
    const limit = 4;
    let bigStarted = 0;
    const worker = job.start(
      async ({ tenant }) => {
        if (tenant === "big") {
          bigStarted += 1;
          await sleep(2);
        }
        return null;
      },
      { concurrency: limit, prefetch: 0, pollIntervalMs: 200 },
    );
    try {
      await eventually(() => bigStarted >= 50, 20_000, "the worker into the backlog");
      const small = await job.enqueue({ tenant: "small", n: 0 }, { group: "small" });
      // Its enqueue has committed: every claim that starts from here on sees
      // it. (Its created_at is the enqueue's start, before the commit: claims
      // between the two cannot see it, and on a loaded machine two fit there.)
      const { rows: visible } = await db().pool.query<{ at: Date }>("select clock_timestamp() as at");
      await job.result(small);
      // On the database clock: the big tenant's tasks started (claimed) by
      // claims that could see the small one and before it started. Only one
      // claim may take those (the rotation may give the big tenant its turn first).
      const { rows } = await db().pool.query<{ before: number; backlog: number }>(
        `select (select count(*) from underway.task_all b
                  where b.queue_name = 'fair_big' and b.group_key = 'big'
                    and b.started_at > $2 and b.started_at < s.started_at)::int as before,
                (select count(*) from underway.task b
                  where b.queue_name = 'fair_big' and b.state = 'pending')::int as backlog
           from underway.task_all s where s.id = $1`,
        [small, visible[0]?.at],
      );
      const [row] = rows;
      assert.ok(row !== undefined);
      assert.ok(row.backlog > 40_000, `the backlog is still there (${row.backlog} pending)`);
      summary("fair tenants", {
        backlog: 50_000,
        limit,
        "big tasks started before the small one": row.before,
      });
      assert.ok(
        row.before <= limit,
        `${row.before} of the big tenant's tasks started between the small one's enqueue and its start (limit ${limit})`,
      );
    } finally {
      await worker.stop();
    }
  });

  it("takes turns round-robin across several groups, each group's tasks in their own order", async () => {
    const underway = await connect();
    const job = underway.job(fairJob("fair_rr"));
    // Group by group, the worst order for a plain FIFO claim.
    const tenants = ["a", "b", "c", "d", "e"];
    await job.enqueueMany(tenants.flatMap((tenant) => backlog(tenant, 20)));
    const order: Tenant[] = [];
    const worker = job.start(
      async (input) => {
        order.push(input);
        return null;
      },
      { concurrency: 1, prefetch: 0, pollIntervalMs: 200 },
    );
    try {
      await eventually(() => order.length === 100, 20_000, "every task ran");
    } finally {
      await worker.stop();
    }
    // Claims of one task each: strictly one turn per group, in rotation.
    const rounds = Array.from({ length: 20 }, (_, r) => order.slice(r * 5, r * 5 + 5).map((x) => x.tenant));
    for (const [r, round] of rounds.entries())
      assert.deepEqual([...round].sort(), tenants, `round ${r} gave each group one turn: ${round.join("")}`);
    for (const tenant of tenants)
      assert.deepEqual(
        order.filter((x) => x.tenant === tenant).map((x) => x.n),
        Array.from({ length: 20 }, (_, i) => i),
        `group ${tenant} in its own order`,
      );
  });

  it("priority orders a group's own tasks, and does not jump other groups' turns", async () => {
    const underway = await connect();
    const job = underway.job(fairJob("fair_priority", ({ n }) => (n === 99 ? { priority: 10 } : {})));
    await job.enqueueMany([...backlog("a", 5), ...backlog("b", 5), { tenant: "a", n: 99 }]);
    const order: string[] = [];
    const worker = job.start(
      async ({ tenant, n }) => {
        order.push(`${tenant}${n}`);
        return null;
      },
      { concurrency: 1, prefetch: 0, pollIntervalMs: 100 },
    );
    try {
      await eventually(() => order.length === 11, 10_000, "every task ran");
    } finally {
      await worker.stop();
    }
    assert.deepEqual(order, ["a99", "b0", "a0", "b1", "a1", "b2", "a2", "b3", "a3", "b4", "a4"]);
  });

  it("interleaves groups within a larger batch, and a group with no due task takes no turn", async () => {
    const underway = await connect();
    const job = underway.job(fairJob("fair_batch"));
    await job.enqueueMany([...backlog("a", 60), ...backlog("b", 60), ...backlog("c", 60)]);
    // A fourth group whose tasks are not due: it must not leave the batch short.
    await job.enqueueMany(backlog("later", 10), { delayMs: 3_600_000 });
    const order: string[] = [];
    const worker = job.start(
      async ({ tenant }) => {
        order.push(tenant);
        await sleep(1);
        return null;
      },
      { concurrency: 2, prefetch: 10, pollIntervalMs: 200 },
    );
    try {
      await eventually(() => order.length === 180, 20_000, "every due task ran");
    } finally {
      await worker.stop();
    }
    // Every stretch of 30 has about a third of each group (claims of up to 12).
    for (let at = 0; at + 30 <= 180; at += 30) {
      const stretch = order.slice(at, at + 30);
      for (const tenant of ["a", "b", "c"]) {
        const share = stretch.filter((x) => x === tenant).length;
        assert.ok(share >= 7 && share <= 13, `group ${tenant} ran ${share} of tasks ${at}-${at + 29}`);
      }
    }
    assert.ok(!order.includes("later"));
  });

  it("weights: a group of weight 3 takes three tasks per turn, also across claims of one", async () => {
    const underway = await connect();
    const job = underway.job(fairJob("fair_weight"));
    await underway.ops.setGroupWeight("fair_weight", "heavy", 3);
    await job.enqueueMany([...backlog("heavy", 40), ...backlog("light", 40), ...backlog("other", 40)]);
    const order: string[] = [];
    const worker = job.start(
      async ({ tenant }) => {
        order.push(tenant);
        return null;
      },
      { concurrency: 1, prefetch: 0, pollIntervalMs: 200 },
    );
    try {
      await eventually(() => order.length >= 50, 20_000, "50 tasks ran");
    } finally {
      await worker.stop();
    }
    const first = order.slice(0, 50);
    const count = (tenant: string) => first.filter((x) => x === tenant).length;
    assert.ok(
      count("heavy") >= 29 && count("heavy") <= 31,
      `heavy ran ${count("heavy")} of 50: ${first.join(",")}`,
    );
    assert.ok(count("light") >= 9 && count("light") <= 11, `light ran ${count("light")} of 50`);
    // Its three in a row: a turn of weight 3 spans three claims of one task.
    assert.match(first.join(","), /heavy,heavy,heavy/);
    const groups = await underway.ops.groups("fair_weight");
    assert.deepEqual(
      groups.map((g) => [g.group, g.weight, g.weightSet]),
      [
        ["heavy", 3, true],
        ["light", 1, false],
        ["other", 1, false],
      ],
    );
    await underway.ops.setGroupWeight("fair_weight", "heavy", null);
    assert.equal((await underway.ops.groups("fair_weight"))[0]?.weightSet, false);
    await assert.rejects(underway.ops.setGroupWeight("fair_weight", "heavy", 0), ConfigError);
    await assert.rejects(underway.ops.setGroupWeight("fair_weight", "heavy", 1.5), ConfigError);
    await assert.rejects(underway.ops.setGroupWeight("fair_weight", "", 2), ConfigError);
  });

  it("with concurrency keys: turns still hold, and a key's limit holds across groups", async () => {
    const underway = await connect();
    // Every task has a per-user key, one at a time per user; the small
    // tenant's task shares user u0's key with the big tenant.
    const job = underway.job(
      fairJob("fair_keys", ({ n }) => ({ concurrencyKey: `u${n % 40}`, concurrencyLimit: 1 })),
    );
    await job.enqueueMany(backlog("big", 2_000));
    const running = new Map<string, number>();
    let peakPerKey = 0;
    const started: string[] = [];
    const worker = job.start(
      async ({ tenant, n }) => {
        const key = `u${n % 40}`;
        started.push(tenant);
        running.set(key, (running.get(key) ?? 0) + 1);
        peakPerKey = Math.max(peakPerKey, running.get(key) ?? 0);
        await sleep(3);
        running.set(key, (running.get(key) ?? 1) - 1);
        return null;
      },
      { concurrency: 4, prefetch: 4, pollIntervalMs: 100 },
    );
    try {
      await eventually(() => started.length >= 100, 20_000, "the worker well into the backlog");
      const at = started.length;
      await job.result(await job.enqueue({ tenant: "small", n: 0 }));
      // Claims of up to 8: the one under way, the tasks held, then its turn
      // (and user u0's key free).
      const waited = started.indexOf("small") - at;
      assert.ok(waited <= 24, `the small tenant's task waited for ${waited} of the big tenant's`);
    } finally {
      await worker.stop();
    }
    assert.equal(peakPerKey, 1, "never two tasks of one key at once, whatever their group");
  });

  it("tasks without a group in a queue with groups are a group of their own", async () => {
    const underway = await connect();
    const job = underway.job(
      defineJob({
        queue: "fair_mixed",
        input: Tenant,
        optionsFor: ({ tenant }) => (tenant === "none" ? {} : { group: tenant }),
      }),
    );
    await job.enqueueMany(backlog("big", 2_000));
    const order: string[] = [];
    const started = gate();
    const worker = job.start(
      async ({ tenant }) => {
        order.push(tenant);
        if (order.length === 20) started.open();
        await sleep(1);
        return null;
      },
      { concurrency: 1, prefetch: 0, pollIntervalMs: 200 },
    );
    try {
      await started.opened;
      const plain = await job.enqueue({ tenant: "none", n: 0 });
      const at = order.length;
      await job.result(plain);
      const waited = order.indexOf("none") - at;
      assert.ok(waited <= 3, `the task without a group waited for ${waited} of the big group's tasks`);
    } finally {
      await worker.stop();
    }
  });

  it("a multi-step job's later steps stay in the group of its first step, unless a step names its own", async () => {
    const underway = await connect();
    const signup = defineStepJob({
      queue: "fair_steps",
      input: Tenant,
      optionsFor: ({ tenant }) => ({ group: tenant }),
    });
    const steps = Steps.of(signup)
      .step(async ({ tenant, n }) => next({ tenant, n }))
      .step(async (value) => next(value))
      .step(async () => done(null), { group: "audit" });
    const job = underway.job(signup);
    const worker = job.start(steps, { pollIntervalMs: 100 });
    try {
      const jobId = await job.enqueue({ tenant: "acme", n: 1 });
      await job.result(jobId);
      const { rows } = await db().pool.query<{ step_index: number; group_key: string | null }>(
        "select step_index, group_key from underway.task_all where job_id = $1 order by step_index",
        [jobId],
      );
      assert.deepEqual(
        rows.map((row) => row.group_key),
        ["acme", "acme", "audit"],
      );
      const first = await db().pool.query<{ id: string }>(
        "select id::text from underway.task_all where job_id = $1 and step_index = 0",
        [jobId],
      );
      assert.equal(
        (await underway.ops.task(first.rows[0]?.id ?? ""))?.group,
        "acme",
        "ops.task shows the group",
      );
    } finally {
      await worker.stop();
    }
  });

  it("a claim never waits on rows locked elsewhere (the queue's row, a group's next task), and a paused queue gives no turns", async () => {
    const underway = await connect();
    const job = underway.job(fairJob("fair_locks"));
    await job.enqueueMany([...backlog("a", 3), ...backlog("b", 3)]);
    const ran: string[] = [];
    // Another transaction holds the queue's row (where the rotation is
    // stored) and group a's first task.
    const other = await db().pool.connect();
    await other.query("begin");
    await other.query("select 1 from underway.queue where name = 'fair_locks' for update");
    await other.query(
      "select 1 from underway.task where queue_name = 'fair_locks' and group_key = 'a' and input->>'n' = '0' for update",
    );
    const worker = job.start(
      async ({ tenant, n }) => {
        ran.push(`${tenant}${n}`);
        return null;
      },
      { concurrency: 1, prefetch: 0, pollIntervalMs: 100 },
    );
    try {
      await eventually(() => ran.length === 5, 10_000, "every task not locked ran");
      assert.ok(!ran.includes("a0"));
      await other.query("commit");
      await eventually(() => ran.includes("a0"), 10_000, "the task once released");
      await underway.pauseQueue("fair_locks");
      await job.enqueueMany(backlog("c", 2));
      await sleep(500);
      assert.equal(ran.length, 6, "a paused queue: no group takes a turn");
      await underway.resumeQueue("fair_locks");
      await eventually(() => ran.length === 8, 10_000, "the tasks after resume");
    } finally {
      other.release();
      await worker.stop();
    }
  });

  it("a queue without groups pays one probe for them, even beside another queue's grouped backlog", async () => {
    const underway = await connect();
    await underway
      .job(defineJob({ queue: "fair_crowd", input: Tenant }))
      .enqueueMany(backlog("x", 20_000), { group: "x" });
    await underway.job(defineJob({ queue: "fair_plain", input: Tenant })).enqueueMany(backlog("none", 2_000));
    const client = await db().pool.connect();
    try {
      await client.query("analyze underway.task");
      await client.query(`prepare claim as ${withSchema(readQueryText("tasksClaim").text, "underway")}`);
      // Past plpgsql's first five plans of its statements, to the one it keeps.
      for (let i = 0; i < 7; i++) {
        await client.query("begin");
        await client.query("execute claim('fair_plain', 10, 'w', 10)");
        await client.query("rollback");
      }
      // The probe is in task_claim's first statement (migration 0024),
      // whose plans auto_explain shows; with nothing found, the claim is
      // the statement without the grouped half.
      const notices: string[] = [];
      const onNotice = (notice: { readonly message?: string }): void => {
        notices.push(notice.message ?? "");
      };
      client.on("notice", onNotice);
      await client.query("begin");
      try {
        await logNestedPlans(client);
        await client.query("execute claim('fair_plain', 10, 'w', 10)");
      } finally {
        await client.query("rollback");
        client.off("notice", onNotice);
      }
      interface Node {
        readonly "Index Name"?: string;
        readonly "Shared Hit Blocks"?: number;
        readonly "Shared Read Blocks"?: number;
        readonly Plans?: ReadonlyArray<Node>;
      }
      const nodes = (node: Node): ReadonlyArray<Node> => [node, ...(node.Plans ?? []).flatMap(nodes)];
      const nested = nestedOf(notices);
      const probes = nested
        .flatMap((plan) => nodes(plan.Plan as Node))
        .filter((node) => node["Index Name"] === "task_group_claim_idx");
      assert.equal(probes.length, 1, "the claim probes for grouped tasks once");
      const probe = probes[0] as Node;
      const pages = (probe["Shared Hit Blocks"] ?? 0) + (probe["Shared Read Blocks"] ?? 0);
      assert.ok(pages <= 20, `the probe read ${pages} pages for a queue without groups`);
      assert.ok(
        !nested.some((plan) => /task_group_turns_claim|grouped as/.test(plan["Query Text"])),
        "a queue without grouped tasks runs the claim without its grouped half",
      );
      assert.ok(
        nested.some((plan) => plan["Query Text"].includes('update "underway".task t')),
        "the claim's update ran",
      );
    } finally {
      // pg remembers which statements it prepared on a connection: after a
      // DEALLOCATE ALL this one must not go back to the pool.
      client.release(true);
    }
  });

  it("groups in ops: pending and running per group, and the group that took the last turn", async () => {
    const underway = await connect();
    const job = underway.job(fairJob("fair_ops"));
    await job.enqueueMany([...backlog("x", 1_500), ...backlog("y", 3)]);
    const hold = gate();
    let inside = 0;
    const worker = job.start(
      async () => {
        inside += 1;
        await hold.opened;
        return null;
      },
      { concurrency: 2, prefetch: 0, pollIntervalMs: 200 },
    );
    try {
      await eventually(() => inside === 2, 10_000, "two tasks running");
      const groups = await underway.ops.groups("fair_ops");
      assert.deepEqual(
        groups.map((g) => ({ group: g.group, pending: g.pending, running: g.running })),
        [
          { group: "x", pending: { count: 1_001, approximate: true }, running: 1 },
          { group: "y", pending: { count: 2, approximate: false }, running: 1 },
        ],
      );
      assert.equal(groups.filter((g) => g.lastTurn).length, 1);
      assert.equal((await underway.ops.groups("fair_ops", { limit: 1 })).length, 1);
      // The queue's page in the dashboard (its tasks list) shows them above its tasks.
      const handler = dashboard(underway, { authorize: () => "read-only" });
      const page = await (await handler(new Request("http://127.0.0.1/tasks?queue=fair_ops"))).text();
      assert.match(page, /<table id="groups"/);
      assert.match(page, /<tr data-group="x">[\s\S]*?&gt;1,000[\s\S]*?<\/tr>/);
      const plain = await (await handler(new Request("http://127.0.0.1/tasks?queue=fair_big_none"))).text();
      assert.doesNotMatch(plain, /id="groups"/);
      await assert.rejects(underway.ops.groups("fair_ops", { limit: 0 }), ConfigError);
      await assert.rejects(underway.ops.groups("fair_ops", { lmit: 5 } as never), /lmit/);
    } finally {
      hold.open();
      await worker.stop();
    }
  });

  it("rejects a bad group with a clear error, and keeps odd ones as given", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "fair_odd", input: Tenant }));
    await assert.rejects(job.enqueue({ tenant: "a", n: 0 }, { group: "" }), /group must not be empty/);
    await assert.rejects(job.enqueue({ tenant: "a", n: 0 }, { group: "x".repeat(600) }), /at most 512 bytes/);
    await assert.rejects(job.enqueue({ tenant: "a", n: 0 }, { groop: "a" } as never), /groop/);
    assert.throws(
      () => defineJob({ queue: "fair_odd", input: Tenant, options: { group: 7 as never } }),
      /group/,
    );
    const odd = ["ünï'cødé\" 🚀", "a b", "%", "'; drop table task; --", "\\"];
    const ran: string[] = [];
    const oddJob = underway.job(fairJob("fair_odd"));
    await oddJob.enqueueMany(odd.map((tenant, n) => ({ tenant, n })));
    const worker = oddJob.start(
      async ({ tenant }) => {
        ran.push(tenant);
        return null;
      },
      { concurrency: 1, prefetch: 0, pollIntervalMs: 100 },
    );
    try {
      await eventually(() => ran.length === odd.length, 10_000, "every odd group's task ran");
    } finally {
      await worker.stop();
    }
    assert.deepEqual([...ran].sort(), [...odd].sort());
  });
});
