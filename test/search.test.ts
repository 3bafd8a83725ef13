// Searching tasks across every queue by error text and input
// (ops.tasks without a queue): answered off the trigram index on error
// where there is one, otherwise by a bounded newest-first walk that says
// how far it read and continues from a cursor; and the migration that adds
// the index succeeds for a role that may not install pg_trgm. Functional
// only: the timings on 10 million rows are in docs/operations.md.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import * as t from "io-ts";
import pg from "pg";
import {
  ConfigError,
  dashboard,
  defineJob,
  silentLogger,
  Underway,
  type ListOptions,
  type TaskFilter,
  type TaskSummary,
} from "../src/index.ts";
import { runCli } from "./support/cli.ts";
import { useDatabase } from "./support/harness.ts";
import { testDatabase } from "./support/testDatabase.ts";

const Input = t.type({ n: t.number, user: t.number });

const ids = (tasks: ReadonlyArray<TaskSummary>) => tasks.map((task) => task.id);
const newestFirst = (values: ReadonlyArray<string>) => [...values].sort((a, b) => Number(b) - Number(a));

/** Every page of a search, following `next`, and the `searched` of each page. */
const allPages = async (
  underway: Underway,
  filter: TaskFilter,
  options: ListOptions,
): Promise<{ tasks: TaskSummary[]; searched: Array<number | undefined> }> => {
  const tasks: TaskSummary[] = [];
  const searched: Array<number | undefined> = [];
  let after: string | undefined;
  for (let pages = 0; pages < 200; pages += 1) {
    const page = await underway.ops.tasks(filter, { ...options, ...(after === undefined ? {} : { after }) });
    tasks.push(...page.tasks);
    searched.push(page.searched);
    if (page.next === null) return { tasks, searched };
    after = page.next;
  }
  throw new Error("too many pages");
};

/**
 * Tasks in three queues, interleaved, with errors set as a worker would
 * leave them: `smtp` every third, `http` every fifth (when not smtp), one
 * whose error holds LIKE's own characters.
 */
const seed = async (underway: Underway, pool: pg.Pool, schema: string) => {
  const queues = ["search_a", "search_b", "search_c"].map((queue) =>
    underway.job(defineJob({ queue, input: Input })),
  );
  const all: string[] = [];
  for (let n = 0; n < 30; n += 1) {
    const queue = queues[n % 3];
    if (queue === undefined) throw new Error("unreachable");
    all.push(await queue.enqueue({ n, user: n % 4 }));
  }
  const at = (n: number) => all[n] ?? "";
  const smtp = all.filter((_, n) => n % 3 === 0);
  const http = all.filter((_, n) => n % 5 === 0 && n % 3 !== 0);
  const set = (taskIds: ReadonlyArray<string>, error: string) =>
    pool.query(
      `update "${schema}".task set state = 'failed', error = $2, finished_at = now() where id = any($1::bigint[])`,
      [taskIds, error],
    );
  await set(smtp, "SMTP timeout after 30 s");
  await set(http, "HTTP 503 from provider");
  await set([at(29)], "quota 100%_used");
  return { all, smtp, http, literal: at(29), user1: all.filter((_, n) => n % 4 === 1) };
};

describe("search across every queue", () => {
  const { db, connect } = useDatabase("search");

  it("finds tasks by error text and by input in every queue, newest first, long and short patterns alike", async () => {
    const underway = await connect();
    const { all, smtp, http, literal, user1 } = await seed(underway, db().pool, "underway");
    // The migration installed pg_trgm (a superuser here) and the index.
    const { rows } = await db().pool.query<{ valid: boolean }>(
      `select i.indisvalid as valid from pg_index i where i.indexrelid = to_regclass('underway.task_error_trgm_idx')`,
    );
    assert.deepEqual(rows, [{ valid: true }]);

    const expect = async (filter: TaskFilter, expected: ReadonlyArray<string>) => {
      for (const limit of [1, 2, 50]) {
        const newest = await allPages(underway, filter, { limit });
        assert.deepEqual(
          ids(newest.tasks),
          newestFirst(expected),
          `${JSON.stringify(filter)} limit ${limit}`,
        );
        const oldest = await allPages(underway, filter, { limit, order: "oldest" });
        assert.deepEqual(
          ids(oldest.tasks),
          newestFirst(expected).reverse(),
          `${JSON.stringify(filter)} oldest`,
        );
      }
    };
    await expect({ errorLike: "smtp TIMEOUT" }, smtp); // a trigram: off the index
    // A walk of 2 tasks, then the rest off the index: every match once, in order, never bounded.
    for (const limit of [1, 3, 50])
      for (const order of ["newest", "oldest"] as const) {
        const pages = await allPages(
          underway,
          { errorLike: "smtp timeout" },
          { limit, order, searchRows: 2 },
        );
        const expected = newestFirst(smtp);
        assert.deepEqual(
          ids(pages.tasks),
          order === "newest" ? expected : expected.reverse(),
          `${limit} ${order}`,
        );
        assert.ok(pages.searched.every((read) => read === undefined));
      }
    await expect({ errorLike: "503" }, http);
    await expect({ errorLike: "30" }, smtp); // no trigram: a walk
    await expect({ errorLike: "0" }, [...smtp, ...http, literal]);
    await expect({ errorLike: "%_" }, [literal]); // LIKE's characters taken literally
    await expect({ errorLike: "100%" }, [literal]);
    await expect({ errorLike: "no such error" }, []);
    await expect({ inputContains: { user: 1 } }, user1);
    await expect(
      { inputContains: { user: 1 }, errorLike: "smtp" },
      user1.filter((id) => smtp.includes(id)),
    );
    await expect({ errorLike: "smtp", state: "pending" }, []);
    await expect({ inputContains: {} }, all);
  });

  it("a dead-lettered task found by a search across queues says where it came from, whichever way the search ran", async () => {
    const underway = await connect();
    const pool = db().pool;
    await underway
      .job(defineJob({ queue: "dlq_src", dlq: "dlq_src_dlq", input: t.type({ who: t.string }) }))
      .enqueue({ who: "x" });
    // Dead-lettered as a worker would leave it: moved to the DLQ, its source kept.
    await pool.query(
      `update underway.task set state = 'failed', error = 'payment gateway said no', finished_at = now(),
              queue_name = 'dlq_src_dlq', dlq_from = 'dlq_src' where queue_name = 'dlq_src'`,
    );
    const searches = [
      underway.ops.tasks({ errorLike: "gateway" }), // the index, or the walk in front of it
      underway.ops.tasks({ errorLike: "ga" }), // too short for the index: the walk
      underway.ops.tasks({ inputContains: { who: "x" } }), // the walk
      underway.ops.tasks({ queue: "dlq_src_dlq" }), // one queue: the plain list
    ];
    for (const page of await Promise.all(searches))
      assert.deepEqual(
        page.tasks.map((task) => [task.queue, task.dlqFrom]),
        [["dlq_src_dlq", "dlq_src"]],
      );
  });

  it("bounds a search no index narrows: says how many tasks it read, and the cursor continues after them", async () => {
    const underway = await connect({ schema: "bounded" });
    const job = underway.job(defineJob({ queue: "bounded_a", input: Input }));
    const other = underway.job(defineJob({ queue: "bounded_b", input: Input }));
    const all: string[] = [];
    for (let n = 0; n < 20; n += 1) all.push(await (n % 2 === 0 ? job : other).enqueue({ n, user: n % 7 }));
    const matching = all.filter((_, n) => n % 7 === 0); // n = 0, 7, 14

    // Newest first, 5 tasks read a call: n 19..15 (none), 14..10, 9..5, 4..0, then the end.
    const pages = await allPages(underway, { inputContains: { user: 0 } }, { limit: 2, searchRows: 5 });
    assert.deepEqual(ids(pages.tasks), newestFirst(matching));
    assert.deepEqual(pages.searched, [5, 5, 5, 5, undefined]);
    const first = await underway.ops.tasks({ inputContains: { user: 0 } }, { limit: 2, searchRows: 5 });
    assert.deepEqual(first.tasks, [], "nothing among the newest 5");
    assert.equal(first.searched, 5);
    assert.notEqual(first.next, null, "an empty bounded page still continues");

    const oldest = await allPages(
      underway,
      { inputContains: { user: 0 } },
      { order: "oldest", searchRows: 8 },
    );
    assert.deepEqual(ids(oldest.tasks), matching);
    assert.deepEqual(oldest.searched, [8, 8, undefined]);

    // Matches common enough to fill the page: no bound reached, an ordinary page.
    const full = await underway.ops.tasks({ inputContains: {} }, { limit: 3, searchRows: 5 });
    assert.deepEqual(ids(full.tasks), newestFirst(all).slice(0, 3));
    assert.equal(full.searched, undefined);
    assert.notEqual(full.next, null);

    // A short error pattern walks too; a long one is read off the index, unbounded.
    await underway.pool.query(
      `update bounded.task set state = 'failed', error = 'E1 failed' where id = any($1::bigint[])`,
      [[all[0], all[1]]],
    );
    const short = await allPages(underway, { errorLike: "E1" }, { searchRows: 10 });
    assert.deepEqual(ids(short.tasks), [all[1], all[0]]);
    assert.deepEqual(short.searched, [10, 10, undefined]);
    const long = await underway.ops.tasks({ errorLike: "failed" }, { searchRows: 10 });
    assert.deepEqual(ids(long.tasks), [all[1], all[0]]);
    assert.equal(long.searched, undefined);

    for (const searchRows of [0, 1.5, 1_000_001, "5"])
      await assert.rejects(
        () => underway.ops.tasks({}, { searchRows } as unknown as ListOptions),
        (error: unknown) => error instanceof ConfigError && /searchRows/.test(error.message),
      );
  });

  it("underway tasks list and the dashboard say when a search across queues stopped at its bound, and its cursor goes on", async () => {
    const underway = await connect({ schema: "cli_search" });
    // 100,001 tasks, the one match the oldest: past the default bound of 100,000.
    await underway.pool.query(
      `insert into cli_search.task (queue_name, input, max_attempts, retry_initial_ms, retry_max_ms,
         retry_coefficient, retry_jitter, timeout_ms, heartbeat_ms, ttl_ms)
       select 'cli_search', jsonb_build_object('user', case when i = 1 then 99 else 0 end),
              5, 1000, 60000, 2, 0.5, 900000, 30000, 1209600000
         from generate_series(1, 100001) i`,
    );
    const cli = (...args: string[]) =>
      runCli(["tasks", "list", "--schema", "cli_search", ...args], { DATABASE_URL: db().url });
    const first = await cli("--input", '{"user":99}');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /no tasks match so far/);
    assert.match(first.stdout, /searched 100,000 tasks without filling the page; more may match/);
    const cursor = /next page: --cursor (\S+)/.exec(first.stdout)?.[1];
    assert.ok(cursor !== undefined, first.stdout);
    const second = await cli("--input", '{"user":99}', "--cursor", cursor, "--json");
    assert.equal(second.code, 0, second.stderr);
    const page = JSON.parse(second.stdout) as { tasks: Array<{ queue: string }>; next: string | null };
    assert.deepEqual(
      page.tasks.map((task) => task.queue),
      ["cli_search"],
    );
    assert.equal(page.next, null);

    // The dashboard's task list says the same, and its link searches on.
    const handler = dashboard(underway, { authorize: () => "read-only" });
    const get = async (path: string) => (await handler(new Request(`http://localhost${path}`))).text();
    const html = await get(`/tasks?input=${encodeURIComponent('{"user":99}')}`);
    assert.match(html, /searched 100,000 tasks without filling the page; more may match/);
    assert.match(html, /No tasks match so far\./);
    assert.doesNotMatch(html, /No tasks match\.</);
    const link = /<a rel="next" href="([^"]+)">search on »<\/a>/.exec(html)?.[1];
    assert.ok(link !== undefined, "a search-on link");
    const onward = await get(link.replaceAll("&amp;", "&"));
    assert.doesNotMatch(onward, /searched 100,000/);
    assert.match(onward, /end of list/);
    assert.match(onward, /cli_search/);
  });

  it("migrates as a role that may not install pg_trgm, and searches by error and input still work", async () => {
    // A managed database's usual set-up: an administrator made the schema
    // for the application's role, which has no CREATE on the database (so
    // no CREATE EXTENSION, not even of a trusted one).
    const database = await testDatabase("search_noext");
    const role = `underway_noext_${randomUUID().slice(0, 8)}`;
    let underway: Underway | undefined;
    try {
      // A password too: the embedded server a new user's `npm test` starts
      // authenticates by password, where CI's trusts every local role.
      const password = randomUUID();
      await database.pool.query(`create role ${role} login password '${password}'`);
      await database.pool.query(`create schema jobs authorization ${role}`);
      const url = new URL(database.url);
      url.username = role;
      url.password = password;
      underway = await Underway.connect({
        connectionString: url.toString(),
        schema: "jobs",
        logger: silentLogger,
      });
      const { rows } = await database.pool.query<{ trgm: number; index: string | null; applied: boolean }>(
        `select (select count(*)::int from pg_extension where extname = 'pg_trgm') as trgm,
                to_regclass('jobs.task_error_trgm_idx')::text as index,
                exists (select 1 from jobs.migration where name = '0013_error_search') as applied`,
      );
      assert.deepEqual(rows, [{ trgm: 0, index: null, applied: true }]);

      const { smtp, user1 } = await seed(underway, database.pool, "jobs");
      const everything = await allPages(underway, { errorLike: "smtp timeout" }, { limit: 4 });
      assert.deepEqual(ids(everything.tasks), newestFirst(smtp));
      assert.ok(
        everything.searched.every((read) => read === undefined),
        "30 tasks: within one default window",
      );
      // Without the index a long pattern walks too, bounded.
      const bounded = await allPages(underway, { errorLike: "smtp timeout" }, { limit: 50, searchRows: 10 });
      assert.deepEqual(ids(bounded.tasks), newestFirst(smtp));
      assert.deepEqual(bounded.searched, [10, 10, 10, undefined]);
      assert.deepEqual(
        ids((await allPages(underway, { inputContains: { user: 1 } }, {})).tasks),
        newestFirst(user1),
      );
    } finally {
      await underway?.close();
      await database.drop();
      const admin = new pg.Client({ connectionString: process.env["DATABASE_URL"] });
      await admin.connect();
      await admin.query(`drop role if exists ${role}`);
      await admin.end();
    }
  });
});
