import { html, type Html } from "../html.ts";
import { age } from "../format.ts";
import { actionForm, href, type PageContext } from "../pageContext.ts";
import type { Count, QueueStats, TaskState } from "../opsContract.ts";
import { throughputChart } from "../throughputChart.ts";

/** @internal The states in the order a task goes through them. */
export const states: ReadonlyArray<TaskState> = [
  "pending",
  "in_progress",
  "succeeded",
  "failed",
  "cancelled",
];

const windowMinutes = 60;

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
    ${states.map(
      (state) =>
        html`<td class="num" data-state="${state}">
          <a
            class="${queue.counts[state]?.count === 0 ? "zero" : ""}"
            href="${href(ctx, "/tasks", { queue: queue.queue, state })}"
            >${countCell(queue.counts[state])}</a
          >
        </td>`,
    )}
    <td class="num">${age(queue.oldestPendingAgeSeconds)}</td>
    <td>
      ${
        queue.pausedAt === null
          ? actionForm(ctx, `/queues/${encodeURIComponent(queue.queue)}/pause`, "Pause")
          : actionForm(ctx, `/queues/${encodeURIComponent(queue.queue)}/resume`, "Resume", {}, "primary")
      }
    </td>
  </tr>`;

/** @internal Queues with counts by state, oldest pending age, and the throughput chart. */
export const overviewPage = async (ctx: PageContext): Promise<Html> => {
  const since = new Date(ctx.now.getTime() - windowMinutes * 60_000);
  const [queues, buckets] = await Promise.all([
    ctx.timed(ctx.ops.queues()),
    ctx.timed(ctx.ops.throughput({ since })),
  ]);
  const anyApproximate = queues.some((q) => Object.values(q.counts).some((c) => c.approximate));
  return html`<section>
    <h2>Queues</h2>
    <table id="queues" data-live-region>
      <thead>
        <tr>
          <th>Queue</th>
          ${states.map((s) => html`<th class="num">${s.replace("_", " ")}</th>`)}
          <th class="num">Oldest pending</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${
          queues.length === 0
            ? html`<tr>
                <td colspan="8" class="muted">No queues yet.</td>
              </tr>`
            : queues.map((q) => queueRow(ctx, q))
        }
      </tbody>
    </table>
    ${anyApproximate ? html`<p class="muted">~ marks an estimate from table statistics (large tables are not counted exactly).</p>` : null}
    <h2>Throughput, last ${windowMinutes} minutes</h2>
    ${throughputChart(buckets, since, ctx.now)}
  </section>`;
};
