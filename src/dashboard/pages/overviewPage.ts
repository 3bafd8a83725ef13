import { html, type Html } from "../html.ts";
import { age, ageOf } from "../format.ts";
import { actionForm, href, type PageContext } from "../pageContext.ts";
import type { Count, QueueStats, TaskState } from "../opsContract.ts";
import { throughputChart } from "../throughputChart.ts";
import { formatPeriod } from "../../ops/ratePeriod.ts";

/** @internal The states in the order a task goes through them. */
export const states: ReadonlyArray<TaskState> = [
  "pending",
  "in_progress",
  "succeeded",
  "failed",
  "cancelled",
];

const windowMinutes = 60;

/** @internal Queues per overview page: thousands of rows would be megabytes of HTML. */
export const queuesPerPage = 100;

const sorts = {
  name: (a: QueueStats, b: QueueStats) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0),
  pending: (a: QueueStats, b: QueueStats) => (b.counts.pending?.count ?? 0) - (a.counts.pending?.count ?? 0),
  failed: (a: QueueStats, b: QueueStats) => (b.counts.failed?.count ?? 0) - (a.counts.failed?.count ?? 0),
} as const;
type Sort = keyof typeof sorts;

/**
 * The count columns of a queue's row: pending split by why it waits (due,
 * delayed, retrying), then the other states, and the dead letters that came
 * from it (which its own "failed" does not count: they moved to the DLQ).
 */
interface Column {
  readonly key: string;
  readonly label: string;
  readonly title: string;
  readonly state?: TaskState;
  readonly count: (q: QueueStats) => Count | undefined;
  readonly link: (ctx: PageContext, q: QueueStats) => string | null;
}

const tasksOf = (state: TaskState) => (ctx: PageContext, q: QueueStats) =>
  href(ctx, "/tasks", { queue: q.queue, state });

const stateColumn = (state: TaskState, title: string): Column => ({
  key: state,
  label: state.replace("_", " "),
  title,
  state,
  count: (q) => q.counts[state],
  link: tasksOf(state),
});

/** @internal The overview's count columns, in the order a task goes through them. */
export const columns: ReadonlyArray<Column> = [
  {
    key: "due",
    label: "due",
    title: "pending and due now: claimed next",
    count: (q) => q.pending.due,
    link: tasksOf("pending"),
  },
  {
    key: "delayed",
    label: "delayed",
    title: "pending, not due yet: enqueued with a delay",
    count: (q) => q.pending.delayed,
    link: tasksOf("pending"),
  },
  {
    key: "retrying",
    label: "retrying",
    title: "pending, not due yet: waiting out a retry backoff",
    count: (q) => q.pending.retrying,
    link: tasksOf("pending"),
  },
  stateColumn("in_progress", "running now"),
  stateColumn("succeeded", "succeeded, kept until their retention ends"),
  stateColumn("failed", "failed for good, in this queue"),
  {
    key: "dead_lettered",
    label: "dead-lettered",
    title: "failed for good and moved to this queue's dead-letter queue",
    count: (q) => (q.dlq === null ? undefined : q.deadLettered),
    link: (ctx, q) => (q.dlq === null ? null : href(ctx, "/dlq", { dlq: q.dlq })),
  },
  stateColumn("cancelled", "cancelled"),
];

/** Totals over every queue (not only the page shown), approximate if any part is. */
const totals = (queues: ReadonlyArray<QueueStats>): ReadonlyArray<Count> =>
  columns.map((column) => ({
    count: queues.reduce((sum, q) => sum + (column.count(q)?.count ?? 0), 0),
    approximate: queues.some((q) => column.count(q)?.approximate === true),
  }));

/** How long the oldest due task has waited; when none is due, when the next falls due. */
const backlog = (ctx: PageContext, queue: QueueStats): Html =>
  queue.oldestPendingAgeSeconds !== null
    ? html`${age(queue.oldestPendingAgeSeconds)}`
    : queue.nextDueAt !== null
      ? html`<span class="muted" title="${queue.nextDueAt.toISOString()}"
          >none due; next in ${ageOf(ctx.now, queue.nextDueAt)}</span
        >`
      : html`<span class="muted">–</span>`;

const queueForm = (ctx: PageContext, search: string, sort: Sort): Html =>
  html`<form class="filters" method="get" action="${href(ctx, "/")}">
    <label>Queue name contains <input name="qs" value="${search}" size="16" /></label>
    <label
      >Sort
      <select name="qsort">
        ${(Object.keys(sorts) as Sort[]).map((key) => html`<option value="${key}" ${key === sort ? "selected" : ""}>${key === "name" ? "name" : `most ${key}`}</option>`)}
      </select></label
    >
    <button type="submit">Show</button>
  </form>`;

/** @internal A count, with "~" and a title when it is the planner's estimate. */
export const countCell = (count: Count | undefined): Html =>
  count === undefined
    ? html`<span class="muted">–</span>`
    : count.approximate
      ? html`<span class="approx" title="estimated (table statistics), not an exact count"
          >~${count.count.toLocaleString("en-US")}</span
        >`
      : html`${count.count.toLocaleString("en-US")}`;

const queueRow = (ctx: PageContext, queue: QueueStats): Html =>
  html`<tr data-queue="${queue.queue}">
    <td>
      <a href="${href(ctx, "/tasks", { queue: queue.queue })}">${queue.queue}</a>
      ${queue.pausedAt === null ? null : html` <span class="paused" title="since ${queue.pausedAt.toISOString()}">paused</span>`}
      ${queue.dlq === null ? null : html`<div class="muted">dead letters → <a href="${href(ctx, "/dlq", { dlq: queue.dlq })}">${queue.dlq}</a></div>`}
    </td>
    ${columns.map((column) => {
      const count = column.count(queue);
      const link = column.link(ctx, queue);
      return html`<td class="num" data-count="${column.key}" data-state="${column.state ?? null}">
        ${
          link === null || count === undefined
            ? countCell(count)
            : html`<a class="${count.count === 0 ? "zero" : ""}" href="${link}">${countCell(count)}</a>`
        }
      </td>`;
    })}
    <td class="num backlog">${backlog(ctx, queue)}</td>
    <td class="rate">
      <a
        href="${href(ctx, `/queues/${encodeURIComponent(queue.queue)}`)}"
        class="${queue.rateLimit === null ? "zero" : ""}"
        title="attempts started per period, in every process: see or change"
        >${queue.rateLimit === null ? "none" : `${queue.rateLimit.limit}/${formatPeriod(queue.rateLimit.periodMs)}`}</a
      >
    </td>
    <td>
      ${
        queue.pausedAt === null
          ? actionForm(ctx, `/queues/${encodeURIComponent(queue.queue)}/pause`, "Pause")
          : actionForm(ctx, `/queues/${encodeURIComponent(queue.queue)}/resume`, "Resume", {}, "primary")
      }
    </td>
  </tr>`;

/**
 * @internal Queues with counts by state, oldest pending age, and the
 * throughput chart. A page of `queuesPerPage` queues at a time (by name, or
 * most pending or failed first, optionally those whose name contains `qs`),
 * under a row of totals over all of them.
 */
export const overviewPage = async (ctx: PageContext): Promise<Html> => {
  const since = new Date(ctx.now.getTime() - windowMinutes * 60_000);
  const [all, buckets] = await Promise.all([
    ctx.timed(ctx.ops.queues()),
    ctx.timed(ctx.ops.throughput({ since })),
  ]);
  const params = ctx.url.searchParams;
  const search = (params.get("qs") ?? "").slice(0, 200);
  const sortParam = params.get("qsort") ?? "name";
  const sort: Sort = Object.hasOwn(sorts, sortParam) ? (sortParam as Sort) : "name";
  const matching = all
    .filter((q) => q.queue.includes(search))
    .sort((a, b) => sorts[sort](a, b) || sorts.name(a, b));
  const pages = Math.max(1, Math.ceil(matching.length / queuesPerPage));
  const pageNumber = Math.min(pages, Math.max(1, Math.floor(Number(params.get("qpage") ?? "1")) || 1));
  const queues = matching.slice((pageNumber - 1) * queuesPerPage, pageNumber * queuesPerPage);
  const anyApproximate = queues.some((q) => columns.some((c) => c.count(q)?.approximate === true));
  const here = { qs: search, qsort: sort === "name" ? undefined : sort };
  const sum = totals(matching);
  return html`<section>
    <h2>Queues</h2>
    ${all.length > queuesPerPage || search !== "" ? queueForm(ctx, search, sort) : null}
    <div class="scroll">
      <table id="queues" data-live-region>
        <thead>
          <tr>
            <th>Queue</th>
            ${columns.map((c) => html`<th class="num" title="${c.title}">${c.label}</th>`)}
            <th class="num" title="how long the oldest due task has waited">Oldest due</th>
            <th title="attempts started per period, in every process">Rate limit</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${
            matching.length > queues.length
              ? html`<tr class="totals" id="queue-totals">
                  <th>All ${matching.length.toLocaleString("en-US")} queues</th>
                  ${columns.map((c, i) => html`<th class="num" data-count="${c.key}">${countCell(sum[i])}</th>`)}
                  <th></th>
                  <th></th>
                  <th></th>
                </tr>`
              : null
          }
          ${
            queues.length === 0
              ? html`<tr>
                  <td colspan="${columns.length + 4}" class="muted">
                    ${search === "" ? "No queues yet." : "No queue name contains that."}
                  </td>
                </tr>`
              : queues.map((q) => queueRow(ctx, q))
          }
        </tbody>
      </table>
    </div>
    ${
      pages > 1
        ? html`<div class="pager" id="queue-pager">
            ${pageNumber > 1 ? html`<a rel="prev" href="${href(ctx, "/", { ...here, qpage: pageNumber - 1 })}">« previous</a>` : null}
            <span class="muted"
              >queues
              ${((pageNumber - 1) * queuesPerPage + 1).toLocaleString("en-US")}–${((pageNumber - 1) * queuesPerPage + queues.length).toLocaleString("en-US")}
              of ${matching.length.toLocaleString("en-US")}</span
            >
            ${pageNumber < pages ? html`<a rel="next" href="${href(ctx, "/", { ...here, qpage: pageNumber + 1 })}">next page »</a>` : null}
          </div>`
        : null
    }
    ${anyApproximate ? html`<p class="muted">~ marks an estimate from table statistics (large tables are not counted exactly).</p>` : null}
    <h2>Throughput, last ${windowMinutes} minutes</h2>
    ${throughputChart(buckets, since, ctx.now)}
  </section>`;
};
