import { html, type Html } from "../html.ts";
import { age, ageOf, instant } from "../format.ts";
import { href, type PageContext } from "../pageContext.ts";
import type { WorkerInfo } from "../opsContract.ts";

const running = (ctx: PageContext, worker: WorkerInfo): Html =>
  worker.running.length === 0
    ? html`<span class="muted">idle</span>`
    : html`<ul class="running">
        ${worker.running.map(
          (task) =>
            html`<li data-task-id="${task.id}">
              <a href="${href(ctx, `/tasks/${task.id}`)}">${task.id}</a> ${task.queue}${
                task.stepIndex === null ? "" : html` step ${task.stepIndex}`
              },
              attempt ${task.attempt}, for ${ageOf(task.startedAt, ctx.now)}
            </li>`,
        )}
      </ul>`;

/** @internal Live worker processes, their heartbeats and what each runs now. */
export const workersPage = async (ctx: PageContext): Promise<Html> => {
  const workers = await ctx.timed(ctx.ops.workers());
  return html`<div class="scroll">
    <table id="workers" data-live-region>
      <thead>
        <tr>
          <th>Worker</th>
          <th>Host</th>
          <th class="num">Pid</th>
          <th>Queues (concurrency)</th>
          <th>Running now</th>
          <th>Started</th>
          <th class="num">Last heartbeat</th>
        </tr>
      </thead>
      <tbody>
        ${
          workers.length === 0
            ? html`<tr>
                <td colspan="7" class="muted">No live workers.</td>
              </tr>`
            : null
        }
        ${workers.map(
          (w) =>
            html`<tr data-worker-id="${w.id}">
              <td><code>${w.id}</code></td>
              <td>${w.host}</td>
              <td class="num">${w.pid}</td>
              <td>${w.queues.map((q, i) => html`${i > 0 ? ", " : ""}${q.queue} (${q.concurrency})`)}</td>
              <td class="running">${running(ctx, w)}</td>
              <td>${instant(w.startedAt)}</td>
              <td class="num">${age(w.heartbeatAgeSeconds)} ago</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
};
