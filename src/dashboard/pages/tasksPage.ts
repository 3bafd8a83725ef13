import { html, type Html } from "../html.ts";
import { banner } from "../layout.ts";
import { csrfField, href, type PageContext } from "../pageContext.ts";
import { filterKeys, parseFilter, type ParsedFilter } from "../taskFilterParams.ts";
import { groupTable } from "../groupTable.ts";
import { taskTable } from "../taskTable.ts";
import { states } from "./overviewPage.ts";

const pageSize = 50;

/** @internal The filter's parameters as hidden fields, so a bulk form acts on what the list shows. */
export const filterFields = (parsed: ParsedFilter): Html[] =>
  filterKeys
    .filter((key) => parsed.params[key] !== "")
    .map((key) => html`<input type="hidden" name="${key}" value="${parsed.params[key]}" />`);

const filterForm = (ctx: PageContext, parsed: ParsedFilter, order: string): Html => {
  const p = parsed.params;
  return html`<form class="filters" method="get" action="${href(ctx, "/tasks")}">
    <label>Queue <input name="queue" value="${p.queue}" size="14" /></label>
    <label
      >State
      <select name="state">
        <option value="">any</option>
        ${states.map((s) => html`<option value="${s}" ${p.state === s ? "selected" : ""}>${s.replace("_", " ")}</option>`)}
      </select></label
    >
    <label>Id(s) <input name="id" value="${p.id}" size="12" /></label>
    <label>Job <input name="job" value="${p.job}" size="14" /></label>
    <label>Batch <input name="batch" value="${p.batch}" size="8" /></label>
    <label>Error contains <input name="error" value="${p.error}" size="16" /></label>
    <label
      >Input <input name="input" value="${p.input}" size="22" placeholder='user.id=3 or {"user":{"id":3}}'
    /></label>
    <label
      >Order
      <select name="order">
        <option value="newest" ${order === "newest" ? "selected" : ""}>newest</option>
        <option value="oldest" ${order === "oldest" ? "selected" : ""}>oldest</option>
      </select></label
    >
    <button type="submit" class="primary">Filter</button>
    <a href="${href(ctx, "/tasks")}">clear</a>
  </form>`;
};

/** @internal Bulk buttons: on the rows ticked, or on everything the filter matches (a dry-run count comes first). */
export const bulkButtons = (actions: ReadonlyArray<readonly [string, string]>): Html =>
  html`<div class="actions">
    ${actions.map(([action, label]) => html`<button type="submit" name="do" value="${action}:selected" class="${dangerous(action) ? "danger" : ""}">${label} selected</button>`)}
    <span class="muted">·</span>
    ${actions.map(([action, label]) => html`<button type="submit" name="do" value="${action}:matching" class="${dangerous(action) ? "danger" : ""}">${label} all matching…</button>`)}
  </div>`;

/** @internal Actions that destroy or stop work: styled as danger wherever they are offered. */
export const dangerous = (action: string): boolean => action === "delete" || action === "cancel";

/** @internal The filtered, keyset-paginated tasks list with bulk actions. */
export const tasksPage = async (ctx: PageContext): Promise<{ body: Html; banners: Html[] }> => {
  const parsed = parseFilter(ctx.url.searchParams);
  const order = ctx.url.searchParams.get("order") === "oldest" ? "oldest" : "newest";
  const after = ctx.url.searchParams.get("after") ?? undefined;
  const banners = parsed.problems.map((problem) => banner("error", problem));
  const page =
    parsed.problems.length > 0
      ? { tasks: [], next: null, searched: undefined }
      : await ctx.timed(
          ctx.ops.tasks(parsed.filter, { limit: pageSize, order, ...(after ? { after } : {}) }),
        );
  // A queue's page: its groups (fair tenants) above its tasks, when it has any.
  const groups =
    parsed.problems.length === 0 &&
    parsed.filter.queue !== undefined &&
    typeof parsed.filter.queue === "string"
      ? await groupTable(ctx, parsed.filter.queue)
      : null;
  const here = Object.fromEntries(filterKeys.map((key) => [key, parsed.params[key]]));
  const table = taskTable(ctx, "tasks", page.tasks, {
    selectable: true,
    partial: page.searched !== undefined,
  });
  const pager = html`<div class="pager">
    ${after === undefined ? null : html`<a href="${href(ctx, "/tasks", { ...here, order })}">« first page</a>`}
    ${page.searched === undefined ? null : html`<span class="muted">searched ${page.searched.toLocaleString("en-US")} tasks without filling the page; more may match</span>`}
    ${page.next === null ? html`<span class="muted">end of list</span>` : html`<a rel="next" href="${href(ctx, "/tasks", { ...here, order, after: page.next })}">${page.searched === undefined ? "next page »" : "search on »"}</a>`}
  </div>`;
  const body = ctx.canAct
    ? html`<form method="post" action="${href(ctx, "/tasks/bulk")}">
        ${csrfField(ctx)} ${filterFields(parsed)}
        ${bulkButtons([
          ["retry", "Retry"],
          ["cancel", "Cancel"],
          ["delete", "Delete"],
        ])}
        ${table}
      </form>`
    : table;
  return { body: html`${filterForm(ctx, parsed, order)}${groups}${body}${pager}`, banners };
};
