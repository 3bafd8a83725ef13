import { html, type Html } from "./html.ts";
import type { GroupStats } from "./opsContract.ts";
import type { PageContext } from "./pageContext.ts";

const pending = (group: GroupStats): Html =>
  group.pending.approximate
    ? html`<span class="approx" title="more than 1,000 (counted no further)"
        >&gt;${(group.pending.count - 1).toLocaleString("en-US")}</span
      >`
    : html`${group.pending.count.toLocaleString("en-US")}`;

/**
 * @internal The groups (fair tenants) of one queue, above its tasks: pending
 * and running per group, weights, and the group that took the last turn
 * (the next claim starts after it). Nothing for a queue without groups.
 */
export const groupTable = async (ctx: PageContext, queue: string): Promise<Html | null> => {
  const groups = await ctx.timed(ctx.ops.groups(queue, { limit: 50 }));
  if (groups.length === 0) return null;
  return html`<details class="panel" open>
    <summary>
      Groups of ${queue} <span class="muted">(take turns at each claim; first ${groups.length} by key)</span>
    </summary>
    <table id="groups" data-live-region>
      <thead>
        <tr>
          <th>Group</th>
          <th class="num">Pending</th>
          <th class="num">Running</th>
          <th class="num">Weight</th>
          <th>Turn</th>
        </tr>
      </thead>
      <tbody>
        ${groups.map(
          (group) =>
            html`<tr data-group="${group.group}">
              <td><code>${group.group}</code></td>
              <td class="num">${pending(group)}</td>
              <td class="num">${group.running.toLocaleString("en-US")}</td>
              <td class="num">
                ${group.weight}${group.weightSet ? "" : html` <span class="muted">(default)</span>`}
              </td>
              <td>${group.lastTurn ? "last turn" : ""}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </details>`;
};
