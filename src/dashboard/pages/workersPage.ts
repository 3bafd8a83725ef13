import { html, type Html } from "../html.ts";
import { age, instant } from "../format.ts";
import type { PageContext } from "../pageContext.ts";

/** @internal Live worker processes and their heartbeats. */
export const workersPage = async (ctx: PageContext): Promise<Html> => {
  const workers = await ctx.timed(ctx.ops.workers());
  return html`<table id="workers" data-live-region>
    <thead>
      <tr>
        <th>Worker</th>
        <th>Host</th>
        <th class="num">Pid</th>
        <th>Queues (concurrency)</th>
        <th>Started</th>
        <th class="num">Last heartbeat</th>
      </tr>
    </thead>
    <tbody>
      ${
        workers.length === 0
          ? html`<tr>
              <td colspan="6" class="muted">No live workers.</td>
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
            <td>${instant(w.startedAt)}</td>
            <td class="num">${age(w.heartbeatAgeSeconds)} ago</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
};
