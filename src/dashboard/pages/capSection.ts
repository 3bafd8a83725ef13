import { instant } from "../format.ts";
import { html, type Html } from "../html.ts";
import type { MaxPendingInfo } from "../opsContract.ts";
import { csrfField, href, type PageContext } from "../pageContext.ts";

// The definition's cap is not stored (an enqueue reads it from the
// definition it was given), so the page can say only which applies.
const inForce = (info: MaxPendingInfo): Html =>
  info.source === "operator"
    ? info.maxPending === null
      ? html`<strong>no cap</strong>, an operator's setting since
          <span title="${info.setAt?.toISOString() ?? ""}">${instant(info.setAt)}</span> (overrides the
          definition's <code>maxPending</code> until cleared)`
      : html`<strong>${info.maxPending}</strong> pending at most, an operator's setting since
          <span title="${info.setAt?.toISOString() ?? ""}">${instant(info.setAt)}</span> (overrides the
          definition's <code>maxPending</code> until cleared)`
    : info.counted === false
      ? html`<strong>none</strong>: the queue's last registered definition has no <code>maxPending</code>, so
          its enqueues do not count pending tasks, and a cap cannot be set here until it has one`
      : html`each enqueue's definition's <code>maxPending</code> (none stored here; a definition without one
          is never counted)`;

// Set a cap, no cap, or back to the definition's: one form, the button
// pressed says which; the CSRF token as every action carries it.
const capForm = (ctx: PageContext, info: MaxPendingInfo): Html | null =>
  ctx.canAct
    ? html`<form
        method="post"
        action="${href(ctx, `/queues/${encodeURIComponent(info.queue)}/maxpending`)}"
        id="cap-form"
      >
        ${csrfField(ctx)}
        <label
          >At most <input name="cap" inputmode="numeric" size="10" value="${info.maxPending ?? ""}" required
        /></label>
        pending
        <button type="submit" name="do" value="set" class="primary">Set</button>
        <button type="submit" name="do" value="off" formnovalidate>No cap</button>
        ${
          info.source === "operator"
            ? html`<button type="submit" name="do" value="clear" formnovalidate>Use the definition's</button>`
            : null
        }
        <p class="muted">
          Applies to enqueues of definitions with a <code>maxPending</code>, in every process, across
          restarts, until cleared; past it an enqueue rejects with <code>QueueFullError</code> and writes
          nothing.
        </p>
      </form>`
    : null;

/** @internal A queue's pending cap on its page: the one in force, where from, and the form. */
export const capSection = async (ctx: PageContext, queue: string): Promise<Html> => {
  const info = await ctx.timed(ctx.ops.maxPending(queue));
  return html`<h2>Pending cap</h2>
    <p
      id="max-pending"
      data-source="${info.source}"
      data-max-pending="${info.maxPending}"
      data-counted="${String(info.counted)}"
    >
      In force: ${inForce(info)}.
    </p>
    ${capForm(ctx, info)}`;
};
