import type { RateLimit } from "../definition.ts";
import { ConfigError } from "../errors.ts";
import { formatRateLimit, periodMsOf } from "../ops/ratePeriod.ts";
import { html, type Html } from "./html.ts";
import type { DashboardAuditEvent } from "./dashboardOptions.ts";
import type { BulkResult, OpsApi, TaskFilter } from "./opsContract.ts";
import { csrfField, href, noticeParams, type PageContext } from "./pageContext.ts";
import { filterKeys, parseFilter } from "./taskFilterParams.ts";
import { dangerous, filterFields } from "./pages/tasksPage.ts";

/** @internal What a POST led to: a redirect after the change, or a page (the dry-run count, a refusal). */
export type ActionOutcome =
  | {
      readonly _tag: "redirect";
      readonly location: string;
      readonly audit?: Omit<DashboardAuditEvent, "at" | "remoteAddress" | "userAgent">;
    }
  | { readonly _tag: "page"; readonly status: number; readonly title: string; readonly body: Html };

const bulkActions = ["retry", "cancel", "delete", "redrive"] as const;
type BulkAction = (typeof bulkActions)[number];
const past: Readonly<Record<BulkAction, string>> = {
  retry: "retried",
  cancel: "cancelled",
  delete: "deleted",
  redrive: "redriven",
};

const refuse = (status: number, text: string): ActionOutcome => ({
  _tag: "page",
  status,
  title: "Not done",
  body: html`<p class="banner error" role="alert">${text}</p>`,
});

const runBulk = (
  ops: OpsApi,
  action: BulkAction,
  filter: TaskFilter,
  dlq: string,
  dryRun: boolean,
): Promise<BulkResult> =>
  action === "redrive" ? ops.redrive(dlq, filter, { dryRun }) : ops[action](filter, { dryRun });

const describe = (filter: TaskFilter): string => JSON.stringify(filter);

/**
 * @internal A bulk action on the ticked rows or on everything matching the
 * filter. Without `confirm` it only counts (dry run) and asks; with it, acts.
 */
export const bulkAction = async (
  ctx: PageContext,
  form: URLSearchParams,
  path: "/tasks/bulk" | "/dlq/redrive",
): Promise<ActionOutcome> => {
  const [action, scope] = (form.get("do") ?? "").split(":");
  if (!bulkActions.includes(action as BulkAction) || (scope !== "selected" && scope !== "matching"))
    return refuse(400, "Unknown action.");
  const dlq = form.get("dlq") ?? "";
  if ((action === "redrive") !== (path === "/dlq/redrive") || (action === "redrive" && dlq === ""))
    return refuse(400, "Unknown action.");
  const params = new URLSearchParams(form);
  // "All matching" means the filter, not whatever rows happened to be ticked.
  if (scope === "matching") params.delete("ids");
  else if (params.getAll("ids").length === 0) return refuse(400, "Select at least one task first.");
  // For a redrive the queue is the DLQ itself, given separately.
  if (action === "redrive") params.delete("queue");
  const parsed = parseFilter(params);
  if (parsed.problems.length > 0) return refuse(400, parsed.problems.join("; "));
  const verb = action as BulkAction;
  const back =
    verb === "redrive"
      ? href(ctx, "/dlq", { dlq, error: parsed.params.error, input: parsed.params.input })
      : href(ctx, "/tasks", Object.fromEntries(filterKeys.map((k) => [k, parsed.params[k]])));
  if (form.get("confirm") !== "1") {
    const dry = await ctx.timed(runBulk(ctx.ops, verb, parsed.filter, dlq, true));
    const label = `${verb[0]?.toUpperCase()}${verb.slice(1)} ${dry.matched} task${dry.matched === 1 ? "" : "s"}`;
    return {
      _tag: "page",
      status: 200,
      title: `${label}?`,
      body: html`<p id="dry-run" data-matched="${dry.matched}">
          Dry run: <strong>${dry.matched}</strong> task${dry.matched === 1 ? "" : "s"}
          ${scope === "selected" ? "selected" : "match"}
          <code>${describe(parsed.filter)}</code>${dry.matched === 0 ? "; nothing to do." : "."}
        </p>
        ${
          dry.matched === 0
            ? null
            : html`<form method="post" action="${href(ctx, path)}">
                ${csrfField(ctx)} ${filterFields(parsed)}
                ${parsed.filter.ids === undefined || scope === "matching" ? null : parsed.filter.ids.map((id) => html`<input type="hidden" name="ids" value="${id}" />`)}
                ${dlq === "" ? null : html`<input type="hidden" name="dlq" value="${dlq}" />`}
                <input type="hidden" name="do" value="${action}:${scope}" /><input
                  type="hidden"
                  name="confirm"
                  value="1"
                />
                <button type="submit" class="${dangerous(verb) ? "danger" : "primary"}" id="confirm">
                  ${label}
                </button>
              </form>`
        }
        <p><a href="${back}">Back</a></p>`,
    };
  }
  const result = await runBulk(ctx.ops, verb, parsed.filter, dlq, false);
  const notice = `${result.changed} of ${result.matched} task${result.matched === 1 ? "" : "s"} ${past[verb]}.`;
  return {
    _tag: "redirect",
    location: `${back}${back.includes("?") ? "&" : "?"}${new URLSearchParams(noticeParams(ctx, notice)).toString()}`,
    audit: {
      action: verb,
      target: { ...(dlq === "" ? {} : { dlq }), filter: parsed.filter, scope },
      matched: result.matched,
      changed: result.changed,
    },
  };
};

/** @internal Retry, cancel or delete one task, from its page. */
export const taskAction = async (ctx: PageContext, id: string, action: string): Promise<ActionOutcome> => {
  if (action !== "retry" && action !== "cancel" && action !== "delete") return refuse(404, "Unknown action.");
  const result = await ctx.ops[action]({ ids: [id] });
  // A running task is only asked to stop: saying "cancelled" while the page
  // still shows it running would read as a lie.
  const stillRunning =
    action === "cancel" && result.changed === 1 && (await ctx.ops.task(id))?.state === "in_progress";
  const notice = stillRunning
    ? `Task ${id}: cancel requested. Its handler's signal fired; it ends cancelled when the handler returns.`
    : result.changed === 1
      ? `Task ${id} ${past[action]}.`
      : `Task ${id} was not ${past[action]} (its state did not allow it).`;
  const location =
    action === "delete" && result.changed === 1
      ? href(ctx, "/tasks", noticeParams(ctx, notice))
      : href(ctx, `/tasks/${id}`, noticeParams(ctx, notice));
  return {
    _tag: "redirect",
    location,
    audit: { action, target: { taskId: id }, matched: result.matched, changed: result.changed },
  };
};

/**
 * @internal A queue's rate limit from its page's form: `do` says set (with
 * `limit` and `period`), off, or clear (back to the definition's). A bad
 * value is refused with the reason, and nothing is written.
 */
const rateLimitAction = async (
  ctx: PageContext,
  queue: string,
  form: URLSearchParams,
): Promise<ActionOutcome> => {
  const verb = form.get("do");
  let setting: RateLimit | null | "definition";
  if (verb === "off") setting = null;
  else if (verb === "clear") setting = "definition";
  else if (verb === "set") {
    const limitText = (form.get("limit") ?? "").trim();
    const periodMs = periodMsOf(form.get("period") ?? "");
    if (!/^\d{1,10}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 2_147_483_647)
      return refuse(
        400,
        `The limit must be a whole number from 1, got ${JSON.stringify(limitText.slice(0, 40))}.`,
      );
    if (periodMs === undefined)
      return refuse(
        400,
        "The period must be a duration such as 500ms, 1s, 10m, 1h or 1d (at most about 24 days).",
      );
    setting = { limit: Number(limitText), periodMs };
  } else return refuse(400, "Unknown action.");
  const info =
    setting === "definition"
      ? await ctx.ops.clearRateLimit(queue)
      : await ctx.ops.setRateLimit(queue, setting);
  const notice =
    setting === "definition"
      ? `Queue ${queue}: the operator's rate limit was cleared; in force now: ${formatRateLimit(info.rateLimit)} (the definition's).`
      : `Queue ${queue}: rate limit ${formatRateLimit(info.rateLimit)}, in every process from their next claim.`;
  return {
    _tag: "redirect",
    location: href(ctx, `/queues/${encodeURIComponent(queue)}`, noticeParams(ctx, notice)),
    audit: { action: "rate-limit", target: { queue, rateLimit: setting }, matched: 0, changed: 0 },
  };
};

/**
 * @internal A queue's pending cap from its page's form: `do` says set (with
 * `cap`), off (no cap), or clear (back to each definition's). A bad value
 * is refused with the reason, and nothing is written.
 */
const maxPendingAction = async (
  ctx: PageContext,
  queue: string,
  form: URLSearchParams,
): Promise<ActionOutcome> => {
  const verb = form.get("do");
  let setting: number | null | "definition";
  if (verb === "off") setting = null;
  else if (verb === "clear") setting = "definition";
  else if (verb === "set") {
    const capText = (form.get("cap") ?? "").trim();
    if (!/^\d{1,10}$/.test(capText) || Number(capText) > 2_147_483_647)
      return refuse(
        400,
        `The cap must be a whole number from 0 to 2147483647, got ${JSON.stringify(capText.slice(0, 40))}.`,
      );
    setting = Number(capText);
  } else return refuse(400, "Unknown action.");
  // The value was checked above, so a ConfigError here is ops.setMaxPending
  // refusing a cap for a queue whose enqueues do not count (it wrote nothing).
  const info = await (
    setting === "definition" ? ctx.ops.clearMaxPending(queue) : ctx.ops.setMaxPending(queue, setting)
  ).catch((error: unknown) => {
    if (error instanceof ConfigError) return undefined;
    throw error;
  });
  if (info === undefined)
    return refuse(
      409,
      `Queue ${queue} does not count its pending tasks (its last registered definition has no maxPending), ` +
        "so a cap would never apply. Give the definition a maxPending, then set this again. Nothing was written.",
    );
  const notice =
    setting === "definition"
      ? `Queue ${queue}: the operator's cap was cleared; each enqueue's definition's maxPending applies.`
      : info.maxPending === null
        ? `Queue ${queue}: no cap, in every process from their next enqueue.`
        : `Queue ${queue}: at most ${info.maxPending} pending, in every process from their next enqueue.`;
  return {
    _tag: "redirect",
    location: href(ctx, `/queues/${encodeURIComponent(queue)}`, noticeParams(ctx, notice)),
    audit: { action: "max-pending", target: { queue, maxPending: setting }, matched: 0, changed: 0 },
  };
};

/** @internal Pause or resume a queue, or change its rate limit or pending cap. */
export const queueAction = async (
  ctx: PageContext,
  queue: string,
  action: string,
  form: URLSearchParams,
): Promise<ActionOutcome> => {
  if (action === "ratelimit") return rateLimitAction(ctx, queue, form);
  if (action === "maxpending") return maxPendingAction(ctx, queue, form);
  if (action !== "pause" && action !== "resume") return refuse(404, "Unknown action.");
  await ctx.ops[action](queue);
  const notice = `Queue ${queue} ${action === "pause" ? "paused: no worker claims its tasks" : "resumed"}.`;
  return {
    _tag: "redirect",
    location: href(ctx, "/", noticeParams(ctx, notice)),
    audit: { action, target: { queue }, matched: 0, changed: 0 },
  };
};

/** @internal Run a schedule's task now, or remove the schedule. */
export const scheduleAction = async (
  ctx: PageContext,
  queue: string,
  action: string,
): Promise<ActionOutcome> => {
  if (action !== "run" && action !== "remove") return refuse(404, "Unknown action.");
  let notice: string;
  let changed: number;
  if (action === "run") {
    const id = await ctx.ops.runSchedule(queue);
    changed = id === undefined ? 0 : 1;
    notice =
      id === undefined
        ? `The schedule of ${queue} was not run: its queue has no task to copy the task options from, or a live task holds its unique key.`
        : `The schedule of ${queue} ran now: task ${id} enqueued.`;
  } else {
    changed = (await ctx.ops.unschedule(queue)) ? 1 : 0;
    notice = changed === 1 ? `The schedule of ${queue} was removed.` : `${queue} had no schedule.`;
  }
  return {
    _tag: "redirect",
    location: href(ctx, "/schedules", noticeParams(ctx, notice)),
    audit: { action: `schedule-${action}`, target: { queue }, matched: changed, changed },
  };
};
