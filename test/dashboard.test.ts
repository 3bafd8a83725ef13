// The dashboard in a real browser: Debian's Chromium driven by
// playwright-core, against real servers (serveDashboard) on a real
// PostgreSQL with real workers. Screenshots go to DASHBOARD_SCREENSHOTS (a
// directory) when set, else to the system's temp directory.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as t from "io-ts";
import type { Browser, Page } from "playwright-core";
import {
  defineJob,
  defineStepJob,
  done,
  FatalError,
  next,
  schedule,
  serveDashboard,
  Steps,
  type DashboardAuditEvent,
  type DashboardServer,
  type Underway,
  type Worker,
} from "../src/index.ts";
import { launchChromium, screenshot, skipWithoutChromium } from "./support/browser.ts";
import { eventually, useDatabase } from "./support/harness.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const Mail = t.type({ user: t.type({ id: t.number }), note: t.string });
const mail = defineJob({
  queue: "mail",
  input: Mail,
  dlq: "mail_dlq",
  options: { retry: { maxAttempts: 1 } },
});
const paced = defineJob({ queue: "paced", input: t.type({ n: t.number }) });
// Fails once (plain Error) and retries in 10 minutes: a task waiting out a backoff.
const flaky = defineJob({
  queue: "states",
  input: t.type({ note: t.string }),
  options: { retry: { maxAttempts: 3, initialIntervalMs: 600_000, maxIntervalMs: 600_000, jitter: 0 } },
});
// Runs until cancelled, then takes a while to wind down.
const slowJob = defineJob({ queue: "slow", input: t.type({ n: t.number }) });
const signup = defineStepJob({ queue: "signup", input: t.type({ userId: t.number }) });
const xss = `<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">`;

describe("dashboard in a real browser", { skip: skipWithoutChromium() }, () => {
  const { db, connect } = useDatabase("dashboard");
  let underway: Underway;
  let browser: Browser;
  let admin: DashboardServer;
  let readOnly: DashboardServer;
  let slow: DashboardServer;
  const workers: Array<Pick<Worker<unknown>, "stop">> = [];
  const audits: DashboardAuditEvent[] = [];
  let page: Page;
  const ids: Record<string, string> = {};
  // Fails the notes that say so, once per task: a retry then succeeds.
  const failedOnce = new Set<string>();

  const stateOf = async (id: string): Promise<string | undefined> =>
    (
      await db().pool.query<{ state: string }>("select state::text from underway.task_all where id = $1", [
        id,
      ])
    ).rows[0]?.state;
  const shot = (name: string) => screenshot(page, name);
  const open = async (server: DashboardServer, path: string) => {
    const response = await page.goto(new URL(path.replace(/^\//, ""), server.url).href);
    assert.ok(response !== null);
    return response;
  };

  before(async () => {
    underway = await connect();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    admin = await serveDashboard(underway, {
      basePath: "/admin/queues",
      onAudit: (event) => audits.push(event),
    });
    readOnly = await serveDashboard(underway, { authorize: () => "read-only" });
    slow = await serveDashboard(underway, { queryTimeoutMs: 400 });

    const mails = underway.job(mail);
    workers.push(
      mails.start(
        async ({ note }, { taskId }) => {
          if (note.startsWith("fail") && !failedOnce.has(taskId)) {
            failedOnce.add(taskId);
            throw new FatalError(`mail server refused: ${note}`);
          }
          return { sent: true };
        },
        { concurrency: 2, pollIntervalMs: 200 },
      ),
      underway.job(paced).start(async ({ n }) => ({ doubled: n * 2 }), { pollIntervalMs: 200 }),
    );
    workers.push(
      underway.job(flaky).start(
        async ({ note }) => {
          if (note === "flaky") throw new Error("try again later");
          return null;
        },
        { pollIntervalMs: 200 },
      ),
      underway.job(slowJob).start(
        async (_input, { signal }) => {
          await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
          await sleep(1_500);
          throw signal.reason;
        },
        { pollIntervalMs: 200 },
      ),
    );
    const steps = Steps.of(signup)
      .step(async ({ userId }) => next({ userId, token: `t${userId}` }))
      .step(async ({ token }) => done({ token }));
    const signups = underway.job(signup);
    workers.push(signups.start(steps, { pollIntervalMs: 200 }));
    await underway.listening();

    ids["ok"] = await mails.enqueue({ user: { id: 1 }, note: "hello" });
    ids["xss"] = await mails.enqueue({ user: { id: 2 }, note: xss });
    ids["retry"] = await mails.enqueue({ user: { id: 3 }, note: "fail then retry" });
    ids["dead"] = await mails.enqueue({ user: { id: 4 }, note: "fail then redrive" });
    ids["job"] = await signups.enqueue({ userId: 9 });
    // Some traffic for the counts, the chart and the screenshots.
    await mails.enqueueMany(
      Array.from({ length: 24 }, (_, n) => ({ user: { id: 100 + n }, note: `newsletter ${n}` })),
    );
    await schedule(underway.job(paced), "0 */15 * * * *[America/Los_Angeles]", { n: 1 });
    await signups.result(ids["job"]);
    await eventually(async () => (await stateOf(ids["dead"] ?? "")) === "failed", 15_000, "the failure");
    await eventually(async () => (await stateOf(ids["xss"] ?? "")) === "succeeded", 15_000, "the xss task");
  });

  after(async () => {
    await browser?.close();
    await Promise.all(workers.map((worker) => worker.stop()));
    await Promise.all([admin?.close(), readOnly?.close(), slow?.close()]);
  });

  it("loads every page under the base path", async () => {
    const pages: ReadonlyArray<readonly [string, string]> = [
      ["/", "Overview"],
      ["/tasks", "Tasks"],
      [`/tasks/${ids["ok"]}`, `Task ${ids["ok"]}`],
      [`/jobs/${ids["job"]}`, `Job ${ids["job"]}`],
      ["/dlq", "Dead letters"],
      ["/schedules", "Schedules"],
      ["/workers", "Workers"],
    ];
    assert.match(admin.url, /\/admin\/queues\/$/);
    for (const [path, title] of pages) {
      const response = await open(admin, path);
      assert.equal(response.status(), 200, path);
      assert.equal(await page.locator("h1").textContent(), title);
      assert.equal(response.headers()["content-security-policy"]?.includes("script-src 'self'"), true);
    }
    await open(admin, "/");
    assert.equal(await page.locator('#queues tr[data-queue="mail"]').count(), 1);
    assert.match(
      (await page.locator('#queues tr[data-queue="mail"] td[data-state="succeeded"]').textContent()) ?? "",
      /\d/,
    );
    assert.equal(await page.locator("#throughput svg polyline").count(), 3);
    // The partial current minute is not drawn (it would dip towards 0): 60 whole minutes.
    const points = await page.locator("#throughput svg polyline").first().getAttribute("points");
    assert.equal(points?.split(" ").length, 60);
    await open(admin, `/jobs/${ids["job"]}`);
    assert.equal(await page.locator("#steps tbody tr").count(), 2, "both steps, in order");
    assert.deepEqual(await page.locator("#steps tbody tr td:first-child").allTextContents(), ["0", "1"]);
    // The job's input, its state, and each step's state and output.
    assert.match(await page.locator("#job-input").innerText(), /"userId": 9/);
    assert.equal(await page.locator("#job-state").getAttribute("data-state"), "succeeded");
    assert.deepEqual(
      await page
        .locator("#step-outputs li")
        .evaluateAll((items) => items.map((li) => li.getAttribute("data-state"))),
      ["succeeded", "succeeded"],
    );
    // What each step returned, not the stored { _tag, value, delayMs } envelope.
    const stepOne = page.locator('#step-outputs li[data-step="1"]');
    assert.match(await stepOne.locator("pre").innerText(), /^\{\s*"token": "t9"\s*\}$/);
    assert.match(await stepOne.innerText(), /done: the job's output/);
    assert.match(await page.locator('#step-outputs li[data-step="0"]').innerText(), /next step, given/);
    await open(admin, "/schedules");
    assert.match(
      (await page.locator('#schedules tr[data-queue="paced"]').textContent()) ?? "",
      /America\/Los_Angeles/,
    );
    assert.equal(await page.locator('#schedules tr[data-queue="paced"] li').count(), 5);
    await open(admin, "/workers");
    assert.ok(
      (await page.locator("#workers tbody tr[data-worker-id]").count()) >= 1,
      "this process's worker",
    );
    // No connection string or password anywhere.
    for (const path of ["/", "/workers", "/tasks"]) {
      await open(admin, path);
      assert.doesNotMatch(await page.content(), /postgres(ql)?:\/\//);
    }
  });

  it("splits pending into due, delayed and retrying, and shows dead letters on the source queue's row", async () => {
    const job = underway.job(flaky);
    const retrying = await job.enqueue({ note: "flaky" });
    await eventually(
      async () =>
        (
          await db().pool.query(
            "select 1 from underway.task_all where id = $1 and state = 'pending' and attempt = 1",
            [retrying],
          )
        ).rowCount === 1,
      10_000,
      "the first attempt to fail and wait out its backoff",
    );
    await job.enqueueAfter({ note: "later" }, 3_600_000);
    const cell = (queue: string, key: string) =>
      page.locator(`#queues tr[data-queue="${queue}"] td[data-count="${key}"]`).innerText();
    await open(admin, "/");
    assert.equal(await cell("states", "due"), "0");
    assert.equal(await cell("states", "delayed"), "1");
    assert.equal(await cell("states", "retrying"), "1");
    // Nothing is due: say when the next is, not "–".
    assert.match(
      await page.locator('#queues tr[data-queue="states"] td.backlog').innerText(),
      /none due; next in (9m|10m)/,
    );
    await underway.pauseQueue("states");
    try {
      await job.enqueue({ note: "now" });
      await open(admin, "/");
      assert.equal(await cell("states", "due"), "1");
      assert.match(await page.locator('#queues tr[data-queue="states"] td.backlog').innerText(), /^\d+s$/);
    } finally {
      await underway.resumeQueue("states");
    }
    // Both failed mails moved to mail_dlq: the mail row says so.
    assert.equal(await cell("mail", "failed"), "0");
    assert.equal(await cell("mail", "dead_lettered"), "2");
    assert.match(
      (await page
        .locator('#queues tr[data-queue="mail"] td[data-count="dead_lettered"] a')
        .getAttribute("href")) ?? "",
      /\/dlq\?dlq=mail_dlq$/,
    );
    await shot("overview");
  });

  it("shows what each worker runs, under the id the task's lease names", async () => {
    const id = await underway.job(slowJob).enqueue({ n: 1 });
    await eventually(async () => (await stateOf(id)) === "in_progress", 10_000, "the slow task to start");
    await open(admin, `/tasks/${id}`);
    const workerId = await page.locator("#lease-worker code").innerText();
    await open(admin, "/workers");
    const row = page.locator(`#workers tr[data-worker-id="${workerId}"]`);
    assert.equal(await row.count(), 1, `a Workers row for ${workerId}`);
    assert.equal(await row.locator(`li[data-task-id="${id}"]`).count(), 1, "running the task");
    await shot("workers");
    ids["slow"] = id;
  });

  it("says 'cancel requested' at once after cancelling a running task, then turns cancelled live", async () => {
    const id = ids["slow"] ?? "";
    await open(admin, `/tasks/${id}`);
    await page.click('button[data-action="cancel"]');
    await page.waitForURL(/notice=/);
    // The handler takes 1.5 s to stop: the page must not say "in progress" with a Cancel button meanwhile.
    assert.equal(await stateOf(id), "in_progress");
    assert.match(await page.locator(".banner.info").innerText(), /cancel requested/);
    assert.equal(await page.locator("#task-state").getAttribute("data-cancel-requested"), "true");
    assert.match(await page.locator("#task-state").innerText(), /cancel requested/);
    assert.equal(await page.locator('button[data-action="cancel"]').count(), 0);
    await page.locator('#task-state[data-state="cancelled"]').waitFor({ timeout: 8_000 });
    assert.equal(await page.locator('button[data-action="retry"]').count(), 1, "the actions refresh too");
  });

  it("filters tasks by state, error text and input path, and opens one", async () => {
    await open(admin, "/tasks");
    await page.selectOption('select[name="state"]', "failed");
    await page.fill('input[name="error"]', "REFUSED: fail then");
    await page.click('form.filters button[type="submit"]');
    await page.waitForURL(/state=failed/);
    const failed = await page
      .locator("#tasks tbody tr[data-task-id]")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-task-id")));
    assert.deepEqual(failed.sort(), [ids["retry"], ids["dead"]].sort());
    await open(admin, "/tasks?input=user.id%3D3");
    assert.deepEqual(
      await page
        .locator("#tasks tbody tr[data-task-id]")
        .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-task-id"))),
      [ids["retry"]],
    );
    await shot("tasks");
    await page.click(`#tasks a[href$="/tasks/${ids["retry"]}"]`);
    await page.waitForURL(new RegExp(`/admin/queues/tasks/${ids["retry"]}$`));
    assert.equal(await page.locator("#task-state").getAttribute("data-state"), "failed");
    assert.equal(await page.locator(".timeline .error-name").first().textContent(), "FatalError");
    assert.match(
      (await page.locator(".timeline .error-message").first().textContent()) ?? "",
      /mail server refused/,
    );
    assert.match((await page.locator("#task-input").textContent()) ?? "", /"id": 3/);
    // Each attempt's duration; no blank output; options as a list; where it was dead-lettered from.
    assert.match(
      await page.locator(".timeline li[data-attempt] .duration").first().innerText(),
      /^\d+(\.\d)? (ms|s)$/,
    );
    assert.equal(await page.locator("#task-output").innerText(), "none: it failed");
    assert.match(await page.locator("#task-options").innerText(), /Timeout\s+\d+ (ms|s) per attempt/);
    assert.match((await page.locator("#dlq-from").getAttribute("href")) ?? "", /\/tasks\?queue=mail$/);
    await shot("task");
  });

  it("serves a favicon: no page load logs a 404", async () => {
    const missing: string[] = [];
    const onResponse = (response: { status(): number; url(): string }) => {
      if (response.status() >= 400) missing.push(`${response.status()} ${response.url()}`);
    };
    page.on("response", onResponse);
    for (const path of ["/", "/tasks", "/workers"]) await open(admin, path);
    page.off("response", onResponse);
    assert.deepEqual(missing, []);
    const href = await page.locator('link[rel="icon"]').getAttribute("href");
    assert.equal(href, "/admin/queues/assets/favicon.svg");
    const icon = await fetch(new URL(href, admin.url));
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get("content-type"), "image/svg+xml");
  });

  it("keeps an XSS payload as text", async () => {
    await open(admin, `/tasks/${ids["xss"]}`);
    assert.ok(
      ((await page.locator("#task-input").textContent()) ?? "").includes("<script>window.__xss = 1</script>"),
    );
    assert.equal(await page.locator("#task-input img, #task-input script").count(), 0);
    await open(admin, `/tasks?input=${encodeURIComponent(JSON.stringify({ note: xss }))}`);
    assert.equal(await page.locator("#tasks tbody tr[data-task-id]").count(), 1);
    assert.equal(await page.evaluate("window.__xss"), undefined);
  });

  it("retries a failed task from its page (audited), and it succeeds", async () => {
    const id = ids["retry"] ?? "";
    await open(admin, `/tasks/${id}`);
    await page.click('button[data-action="retry"]');
    await page.waitForURL(/notice=/);
    assert.match((await page.locator(".banner.info").textContent()) ?? "", /retried/);
    await eventually(async () => (await stateOf(id)) === "succeeded", 10_000, "the retried task");
    const event = audits.find((a) => a.action === "retry" && a.target["taskId"] === id);
    assert.ok(event !== undefined, "an audit event");
    assert.equal(event.changed, 1);
    assert.equal(event.remoteAddress?.endsWith("127.0.0.1"), true);
  });

  it("redrives a selected dead letter after a dry-run count", async () => {
    const id = ids["dead"] ?? "";
    await open(admin, "/dlq?dlq=mail_dlq");
    // Where each dead letter came from, not the DLQ's own name.
    assert.equal(await page.locator(`#dead-letters tr[data-task-id="${id}"] td.queue`).innerText(), "mail");
    await shot("dlq");
    await page.check(`#dead-letters input[name="ids"][value="${id}"]`);
    await page.click('button[name="do"][value="redrive:selected"]');
    assert.equal(await page.locator("#dry-run").getAttribute("data-matched"), "1");
    assert.equal(await stateOf(id), "failed", "a dry run changes nothing");
    // The count answers a POST: its URL takes no GET, so the page must not
    // refresh itself from it when a change is announced.
    assert.equal(await page.evaluate("document.body.dataset.live"), "off");
    const gets: string[] = [];
    const onRequest = (request: { method(): string; url(): string }) => {
      if (request.method() === "GET") gets.push(request.url());
    };
    page.on("request", onRequest);
    await underway.job(mail).enqueue({ user: { id: 5 }, note: "a change while counting" });
    await sleep(1_500);
    page.off("request", onRequest);
    assert.deepEqual(
      gets.filter((url) => url.includes("/dlq/redrive")),
      [],
    );
    await page.click("#confirm");
    await page.waitForURL(/notice=/);
    await eventually(async () => (await stateOf(id)) === "succeeded", 10_000, "the redriven task");
    const { rows } = await db().pool.query("select queue_name from underway.task_all where id = $1", [id]);
    assert.equal(rows[0]?.queue_name, "mail");
    assert.ok(audits.some((a) => a.action === "redrive" && a.changed === 1));
  });

  it("bulk-cancels everything matching, with the count first", async () => {
    const pacedJob = underway.job(paced);
    await underway.pauseQueue("paced");
    const pending = await pacedJob.enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await open(admin, "/tasks?queue=paced&state=pending");
    await page.click('button[name="do"][value="cancel:matching"]');
    assert.equal(await page.locator("#dry-run").getAttribute("data-matched"), "3");
    await page.click("#confirm");
    await page.waitForURL(/notice=/);
    for (const id of pending) assert.equal(await stateOf(id), "cancelled");
    await underway.resumeQueue("paced");
  });

  it("pauses a queue: the worker stops claiming until it is resumed", async () => {
    await open(admin, "/");
    await page.click('#queues tr[data-queue="paced"] button[data-action="pause"]');
    await page.waitForURL(/notice=/);
    assert.ok((await underway.queuePausedAt("paced")) instanceof Date);
    assert.equal(await page.locator('#queues tr[data-queue="paced"] .paused').count(), 1);
    const id = await underway.job(paced).enqueue({ n: 7 });
    await sleep(1_500); // several poll intervals and a NOTIFY: no claim
    assert.equal(await stateOf(id), "pending");
    await page.click('#queues tr[data-queue="paced"] button[data-action="resume"]');
    await page.waitForURL(/notice=/);
    await eventually(async () => (await stateOf(id)) === "succeeded", 10_000, "the claim after resume");
    assert.deepEqual(
      audits.filter((a) => a.target["queue"] === "paced").map((a) => a.action),
      ["pause", "resume"],
    );
  });

  it("shows a task turn from pending to succeeded live, without a reload", async () => {
    await underway.pauseQueue("paced");
    const id = await underway.job(paced).enqueue({ n: 8 });
    await open(admin, `/tasks/${id}`);
    await page.waitForFunction("document.body.dataset.liveState === 'live'", undefined, { timeout: 5_000 });
    assert.equal(await page.locator("#task-state").getAttribute("data-state"), "pending");
    await page.evaluate("window.__same = true");
    await underway.resumeQueue("paced");
    // Well before the 15 s slow refresh: the server-sent event did it.
    await page.locator('#task-state[data-state="succeeded"]').waitFor({ timeout: 5_000 });
    assert.equal(await page.evaluate("window.__same"), true, "same document");
    assert.equal(((await page.locator("#task-output").textContent()) ?? "").includes('"doubled": 16'), true);
    // Paused: no more refreshes.
    await page.click("#live-toggle");
    assert.equal(await page.evaluate("document.body.dataset.liveState"), "paused");
    await page.click("#live-toggle");
  });

  it("runs a schedule now, shows its last run, and removes it (confirmed, audited)", async () => {
    const row = page.locator('#schedules tr[data-queue="paced"]');
    await open(admin, "/schedules");
    assert.equal(await row.locator(".last-run").innerText(), "not yet");
    await row.locator('button[data-action="run now"]').click();
    await page.waitForURL(/notice=/);
    const notice = await page.locator(".banner.info").innerText();
    const id = /task (\d+) enqueued/.exec(notice)?.[1];
    assert.ok(id !== undefined, notice);
    const { rows } = await db().pool.query("select queue_name, input from underway.task_all where id = $1", [
      id,
    ]);
    assert.deepEqual(rows[0], { queue_name: "paced", input: { n: 1 } });
    await eventually(async () => (await stateOf(id)) === "succeeded", 10_000, "the task run now");
    // A cron run, as a scheduler records it.
    await db().pool.query(
      "insert into underway.schedule_tick (queue_name, tick_at, task_id) values ('paced', now() - interval '5 minutes', $1)",
      [id],
    );
    await db().pool.query("update underway.schedule set last_tick_at = now() - interval '5 minutes'");
    await open(admin, "/schedules");
    assert.match(await row.locator(".last-run").innerText(), /\(5m \d\ds ago\)\s+task \d+/);
    assert.equal(await row.locator('button[data-action="remove"]').getAttribute("class"), "danger");
    page.once("dialog", (dialog) => void dialog.accept());
    await row.locator('button[data-action="remove"]').click();
    await page.waitForURL(/notice=/);
    assert.match(await page.locator(".banner.info").innerText(), /schedule of paced was removed/);
    assert.equal(await row.count(), 0);
    assert.deepEqual(
      (await underway.ops.schedules()).map((s) => s.queue),
      [],
    );
    assert.deepEqual(
      audits
        .filter((a) => a.target["queue"] === "paced" && a.action.startsWith("schedule"))
        .map((a) => a.action),
      ["schedule-run", "schedule-remove"],
    );
  });

  it("fits a 390 px wide phone screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const path of [
        "/",
        "/tasks",
        `/tasks/${ids["dead"]}`,
        `/jobs/${ids["job"]}`,
        "/dlq",
        "/schedules",
        "/workers",
      ]) {
        await open(admin, path);
        const width = await page.evaluate("document.documentElement.scrollWidth");
        assert.ok(Number(width) <= 390, `${path} is ${String(width)} px wide`);
      }
      await open(admin, "/");
      await shot("overview-narrow");
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it("gives a read-only user no buttons, and refuses their POSTs", async () => {
    for (const path of ["/", "/tasks", `/tasks/${ids["ok"]}`, "/dlq?dlq=mail_dlq"]) {
      const response = await open(readOnly, path);
      assert.equal(response.status(), 200);
      assert.equal(await page.locator('form[method="post"]').count(), 0, path);
      assert.equal(await page.locator(".role").textContent(), "read-only");
    }
    const status = await page.evaluate(async (url) => {
      const response = await fetch(url, { method: "POST", body: new URLSearchParams({ csrf: "x" }) });
      return response.status;
    }, new URL("queues/paced/pause", readOnly.url).href);
    assert.equal(status, 403);
    assert.equal(await underway.queuePausedAt("paced"), null);
  });

  it("refuses a POST without a CSRF token or from another origin, and shows no unsigned notice", async () => {
    await open(admin, "/?notice=Session%20expired%3A%20log%20in%20at%20evil.example");
    assert.equal(
      await page.locator(".banner.info").count(),
      0,
      "a notice shows only when the dashboard signed it",
    );
    const token = await page.locator('input[name="csrf"]').first().getAttribute("value");
    assert.ok(token !== null);
    const pause = new URL("queues/paced/pause", admin.url).href;
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(pause, { method: "POST", body: new URLSearchParams(body), headers, redirect: "manual" });
    assert.equal((await post({})).status, 403, "no token");
    assert.equal((await post({ csrf: `${token}x` })).status, 403, "a forged token");
    assert.equal(
      (await post({ csrf: token }, { origin: "http://evil.example" })).status,
      403,
      "another origin",
    );
    assert.equal(await underway.queuePausedAt("paced"), null);
    // The same request with the token, from the dashboard's origin, works.
    assert.equal((await post({ csrf: token }, { origin: new URL(admin.url).origin })).status, 303);
    assert.ok((await underway.queuePausedAt("paced")) instanceof Date);
    await underway.resumeQueue("paced");
  });

  it("denies a request through a proxy by default, and shows a banner for a slow query", async () => {
    const forwarded = await fetch(admin.url, { headers: { "x-forwarded-for": "203.0.113.9" } });
    assert.equal(forwarded.status, 403);
    const locker = await db().pool.connect();
    try {
      await locker.query("begin");
      await locker.query("lock table underway.task in access exclusive mode");
      const started = Date.now();
      const response = await open(slow, "/tasks");
      assert.ok(Date.now() - started < 3_000, "answered, not hung");
      assert.equal(response.status(), 503);
      assert.match((await page.locator(".banner.error").textContent()) ?? "", /did not answer within 400 ms/);
      await shot("slow");
    } finally {
      await locker.query("rollback");
      locker.release();
    }
  });
});
