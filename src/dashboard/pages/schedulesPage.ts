import { html, jsonText, type Html } from "../html.ts";
import { ageOf, inZone } from "../format.ts";
import { actionForm, href, type PageContext } from "../pageContext.ts";
import type { ScheduleInfo } from "../opsContract.ts";

const lastRun = (ctx: PageContext, s: ScheduleInfo): Html =>
  s.lastRunAt === null
    ? html`<span class="muted">not yet</span>`
    : html`<span title="${s.lastRunAt.toISOString()}">${inZone(s.lastRunAt, s.timeZone)}</span>
        <span class="muted">(${ageOf(s.lastRunAt, ctx.now)} ago)</span>
        ${s.lastTaskId === null ? null : html`<div><a href="${href(ctx, `/tasks/${s.lastTaskId}`)}">task ${s.lastTaskId}</a></div>`}`;

const actions = (ctx: PageContext, s: ScheduleInfo): Html => {
  const path = `/schedules/${encodeURIComponent(s.queue)}`;
  return html`<div class="actions">
    ${actionForm(ctx, `${path}/run`, "Run now")}
    ${actionForm(
      ctx,
      `${path}/remove`,
      "Remove",
      {},
      "danger",
      `Remove the schedule of ${s.queue}? Its tasks stop being enqueued in every process.`,
    )}
  </div>`;
};

/** @internal Schedules with their next runs, in each schedule's own zone. */
export const schedulesPage = async (ctx: PageContext): Promise<Html> => {
  const schedules = await ctx.timed(ctx.ops.schedules({ nextRuns: 5 }));
  return html`<div class="scroll">
    <table id="schedules" data-live-region>
      <thead>
        <tr>
          <th>Queue</th>
          <th>Expression</th>
          <th>Zone</th>
          <th>Last run</th>
          <th>Next runs</th>
          <th>Input</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${
          schedules.length === 0
            ? html`<tr>
                <td colspan="7" class="muted">No schedules.</td>
              </tr>`
            : null
        }
        ${schedules.map(
          (s) =>
            html`<tr data-queue="${s.queue}">
              <td><a href="${href(ctx, "/tasks", { queue: s.queue })}">${s.queue}</a></td>
              <td><code>${s.expression}</code></td>
              <td>${s.timeZone}</td>
              <td class="last-run">${lastRun(ctx, s)}</td>
              <td>
                ${
                  s.error === null
                    ? html`<ul class="timeline">
                        ${s.nextRuns.map((run) => html`<li title="${run.toISOString()}">${inZone(run, s.timeZone)}</li>`)}
                      </ul>`
                    : html`<strong class="schedule-broken">Broken, never fires:</strong> ${s.error}`
                }
              </td>
              <td><pre>${jsonText(s.input)}</pre></td>
              <td>${actions(ctx, s)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
};
