import { html, jsonText, type Html } from "../html.ts";
import { inZone } from "../format.ts";
import { href, type PageContext } from "../pageContext.ts";

/** @internal Schedules with their next runs, in each schedule's own zone. */
export const schedulesPage = async (ctx: PageContext): Promise<Html> => {
  const schedules = await ctx.timed(ctx.ops.schedules({ nextRuns: 5 }));
  return html`<table id="schedules" data-live-region>
    <thead>
      <tr>
        <th>Queue</th>
        <th>Expression</th>
        <th>Zone</th>
        <th>Next runs</th>
        <th>Input</th>
      </tr>
    </thead>
    <tbody>
      ${
        schedules.length === 0
          ? html`<tr>
              <td colspan="5" class="muted">No schedules.</td>
            </tr>`
          : null
      }
      ${schedules.map(
        (s) =>
          html`<tr data-queue="${s.queue}">
            <td><a href="${href(ctx, "/tasks", { queue: s.queue })}">${s.queue}</a></td>
            <td><code>${s.expression}</code></td>
            <td>${s.timeZone}</td>
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
          </tr>`,
      )}
    </tbody>
  </table>`;
};
