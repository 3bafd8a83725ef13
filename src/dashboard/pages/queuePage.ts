import { formatPeriod, formatRateLimit } from "../../ops/ratePeriod.ts";
import { instant } from "../format.ts";
import { html, type Html } from "../html.ts";
import { csrfField, href, type PageContext } from "../pageContext.ts";
import type { RateLimitInfo } from "../opsContract.ts";
import { capSection } from "./capSection.ts";

const source = (info: RateLimitInfo): Html =>
  info.source === "operator"
    ? html`an operator's setting, since
        <span title="${info.setAt?.toISOString() ?? ""}">${instant(info.setAt)}</span> (overrides the
        definition's until cleared)`
    : info.source === "definition"
      ? html`the definition`
      : html`<span class="muted">none set</span>`;

const spent = (next: Date | null): Html | null =>
  next === null ? null : html`; <strong>spent</strong>, next start ${instant(next)}`;

const budgets = (info: RateLimitInfo): Html | null => {
  const rateLimit = info.rateLimit;
  if (rateLimit === null) return null;
  const period = formatPeriod(rateLimit.periodMs);
  return html`<p id="own-budget" data-used="${info.used}" data-limit="${rateLimit.limit}">
      Own budget (tasks without a <code>rateLimitKey</code>): <strong>${info.used}</strong> of
      ${rateLimit.limit} started in the last ${period}${spent(info.nextStartAt)}.
    </p>
    ${
      info.activeKeys === 0
        ? null
        : html`<p>
              Keyed budgets used in the last ${period}:
              ${info.activeKeys}${info.keys.length < info.activeKeys ? html`, the ${info.keys.length} most recent:` : ":"}
            </p>
            <table id="rate-keys">
              <thead>
                <tr>
                  <th>Key</th>
                  <th class="num">Started in the last ${period}</th>
                  <th>Next start</th>
                </tr>
              </thead>
              <tbody>
                ${info.keys.map(
                  (use) =>
                    html`<tr data-key="${use.key}">
                      <td><code>${use.key}</code></td>
                      <td class="num">${use.used}</td>
                      <td>
                        ${use.nextStartAt === null ? html`<span class="muted">has room</span>` : instant(use.nextStartAt)}
                      </td>
                    </tr>`,
                )}
              </tbody>
            </table>`
    }`;
};

// Set (limit and period), off, or back to the definition's: one form, the
// button pressed says which; the CSRF token as every action carries it.
const rateForm = (ctx: PageContext, info: RateLimitInfo): Html | null =>
  ctx.canAct
    ? html`<form
        method="post"
        action="${href(ctx, `/queues/${encodeURIComponent(info.queue)}/ratelimit`)}"
        id="rate-form"
      >
        ${csrfField(ctx)}
        <label
          >Limit
          <input name="limit" inputmode="numeric" size="8" value="${info.rateLimit?.limit ?? ""}" required
        /></label>
        <label
          >per
          <input
            name="period"
            size="8"
            value="${info.rateLimit === null ? "1s" : formatPeriod(info.rateLimit.periodMs)}"
        /></label>
        <button type="submit" name="do" value="set" class="primary">Set</button>
        <button type="submit" name="do" value="off" formnovalidate>No limit</button>
        ${
          info.source === "operator"
            ? html`<button type="submit" name="do" value="clear" formnovalidate>Use the definition's</button>`
            : null
        }
        <p class="muted">
          Periods: 500ms, 1s, 10m, 1h, 1d. Stored on the queue's row: it applies in every process at their
          next claim, across restarts, until cleared.
        </p>
      </form>`
    : null;

/** @internal One queue's settings: its rate limit (in force, where from, its budgets' use) and pending cap, and the forms to change them. */
export const queuePage = async (ctx: PageContext, queue: string): Promise<Html> => {
  const [info, cap] = await Promise.all([ctx.timed(ctx.ops.rateLimit(queue)), capSection(ctx, queue)]);
  return html`<section>
    <p><a href="${href(ctx, "/tasks", { queue })}">Tasks of ${queue}</a></p>
    <h2>Rate limit</h2>
    <p
      id="rate-limit"
      data-limit="${info.rateLimit?.limit ?? null}"
      data-period-ms="${info.rateLimit?.periodMs ?? null}"
    >
      In force: <strong>${formatRateLimit(info.rateLimit)}</strong>, from ${source(info)}. The definition's:
      ${formatRateLimit(info.defined)}.
    </p>
    ${budgets(info)} ${rateForm(ctx, info)} ${cap}
  </section>`;
};
