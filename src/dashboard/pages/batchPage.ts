import { html, jsonText, type Html } from "../html.ts";
import { instant } from "../format.ts";
import { href, type PageContext } from "../pageContext.ts";

/**
 * @internal One batch (`enqueueBatch`): its progress (members ended of its
 * total, by how they ended), the members that failed (the first 1,000, as
 * links), its context and its callback task once enqueued. Undefined when
 * no batch has this id.
 */
export const batchPage = async (ctx: PageContext, batchId: string): Promise<Html | undefined> => {
  const batch = await ctx.timed(ctx.ops.batch(batchId));
  if (batch === undefined) return undefined;
  const ended = batch.total - batch.remaining;
  const percent = batch.total === 0 ? 100 : Math.floor((ended * 100) / batch.total);
  return html`<p class="muted">
      A batch's callback is enqueued once, in the transaction that ends its last member.
    </p>
    <div class="grid" id="batch-detail" data-live-region>
      <section class="panel">
        <h2>Progress</h2>
        <progress id="batch-progress" max="${batch.total}" value="${ended}">${percent}%</progress>
        <dl class="facts">
          <dt>Members</dt>
          <dd>
            <a href="${href(ctx, `/queues/${encodeURIComponent(batch.queue)}`)}">${batch.queue}</a>:
            ${batch.total} (<a id="batch-members" href="${href(ctx, "/tasks", { batch: batchId })}"
              >list them</a
            >)
          </dd>
          <dt>Ended</dt>
          <dd id="batch-ended">${ended} of ${batch.total} (${percent}%)</dd>
          <dt>Succeeded</dt>
          <dd id="batch-succeeded">${batch.succeeded}</dd>
          <dt>Failed</dt>
          <dd id="batch-failed">${batch.failed}</dd>
          <dt>Cancelled</dt>
          <dd id="batch-cancelled">${batch.cancelled}</dd>
          <dt>Remaining</dt>
          <dd id="batch-remaining">${batch.remaining}</dd>
          <dt>Created</dt>
          <dd>${instant(batch.createdAt)}</dd>
          <dt>Completed</dt>
          <dd id="batch-completed">
            ${batch.completedAt === null ? html`<span class="muted">not yet</span>` : instant(batch.completedAt)}
          </dd>
          <dt>Callback</dt>
          <dd id="batch-callback">
            ${
              batch.callbackQueue === null
                ? html`<span class="muted">none</span>`
                : batch.callbackTaskId === null
                  ? html`${batch.callbackQueue}, <span class="muted">enqueued at the batch's end</span>`
                  : html`<a href="${href(ctx, `/tasks/${batch.callbackTaskId}`)}"
                        >task ${batch.callbackTaskId}</a
                      >
                      (${batch.callbackQueue})`
            }
          </dd>
        </dl>
        <h2>Context</h2>
        <pre id="batch-context">${jsonText(batch.context)}</pre>
      </section>
      <section class="panel">
        <h2>Failed members</h2>
        ${
          batch.failedIds.length === 0
            ? html`<p class="muted">none</p>`
            : html`<ul id="batch-failed-ids">
                ${batch.failedIds.map((id) => html`<li><a href="${href(ctx, `/tasks/${id}`)}">task ${id}</a></li>`)}
              </ul>`
        }
        ${batch.failed > batch.failedIds.length ? html`<p class="muted">The first ${batch.failedIds.length} of ${batch.failed} are listed.</p>` : null}
      </section>
    </div>`;
};
