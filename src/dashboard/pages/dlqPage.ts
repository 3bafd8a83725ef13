import { html, type Html } from "../html.ts";
import { banner } from "../layout.ts";
import { csrfField, href, type PageContext } from "../pageContext.ts";
import { parseFilter } from "../taskFilterParams.ts";
import { taskTable } from "../taskTable.ts";
import { countCell } from "./overviewPage.ts";
import { bulkButtons, filterFields } from "./tasksPage.ts";

const pageSize = 100;

/** @internal Dead-letter queues; one opened: its tasks, redriven selected or all matching. */
export const dlqPage = async (ctx: PageContext): Promise<{ body: Html; banners: Html[] }> => {
  const queues = await ctx.timed(ctx.ops.queues());
  const dlqs = [...new Set(queues.flatMap((q) => (q.dlq === null ? [] : [q.dlq])))].sort();
  const chosen = ctx.url.searchParams.get("dlq") ?? dlqs[0] ?? null;
  const statsOf = (name: string) => queues.find((q) => q.queue === name);
  const list = html`<table id="dlqs" data-live-region>
    <thead>
      <tr>
        <th>Dead-letter queue</th>
        <th>Fed by</th>
        <th class="num">Dead letters</th>
      </tr>
    </thead>
    <tbody>
      ${
        dlqs.length === 0
          ? html`<tr>
              <td colspan="3" class="muted">No queue has a dead-letter queue.</td>
            </tr>`
          : null
      }
      ${dlqs.map((name) => {
        const counts = statsOf(name)?.counts;
        return html`<tr>
          <td><a href="${href(ctx, "/dlq", { dlq: name })}">${name}</a></td>
          <td>${queues.filter((q) => q.dlq === name).map((q, i) => html`${i > 0 ? ", " : ""}${q.queue}`)}</td>
          <td class="num">${countCell(counts?.failed)}</td>
        </tr>`;
      })}
    </tbody>
  </table>`;
  if (chosen === null) return { body: list, banners: [] };
  // Dead letters are the failed tasks moved into the DLQ (dlq_from says whence).
  const params = new URLSearchParams(ctx.url.searchParams);
  params.set("queue", chosen);
  // One (queue, state) range of the list index: fast on a large DLQ.
  if (!params.has("state")) params.set("state", "failed");
  const parsed = parseFilter(params);
  const banners = parsed.problems.map((problem) => banner("error", problem));
  const page =
    parsed.problems.length > 0
      ? { tasks: [] }
      : await ctx.timed(ctx.ops.tasks(parsed.filter, { limit: pageSize }));
  const table = taskTable(ctx, "dead-letters", page.tasks, { selectable: true, showOrigin: true });
  const filters = html`<form class="filters" method="get" action="${href(ctx, "/dlq")}">
    <input type="hidden" name="dlq" value="${chosen}" />
    <label>Error contains <input name="error" value="${parsed.params.error}" size="18" /></label>
    <label
      >Input <input name="input" value="${parsed.params.input}" size="22" placeholder="user.id=3"
    /></label>
    <button type="submit">Filter</button>
  </form>`;
  const tasks = ctx.canAct
    ? html`<form method="post" action="${href(ctx, "/dlq/redrive")}">
        ${csrfField(ctx)} ${filterFields(parsed)} <input type="hidden" name="dlq" value="${chosen}" />
        ${bulkButtons([["redrive", "Redrive"]])} ${table}
      </form>`
    : table;
  return {
    body: html`${list}
      <h2>${chosen}</h2>
      ${filters}${tasks}`,
    banners,
  };
};
