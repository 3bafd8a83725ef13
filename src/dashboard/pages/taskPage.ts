import { html, jsonText, type Html } from "../html.ts";
import { instant } from "../format.ts";
import { actionForm, href, type PageContext } from "../pageContext.ts";
import type { HistoryEntry } from "../../history.ts";
import type { TaskDetail } from "../opsContract.ts";
import { stateLabel } from "../taskTable.ts";

const entry = (item: HistoryEntry): Html =>
  item._tag === "attempt"
    ? html`<li class="${item.state}" data-attempt="${item.attempt}">
        <strong>Attempt ${item.attempt}</strong> ${stateLabel(item.state)}
        <span class="muted">${instant(item.startedAt)} → ${instant(item.finishedAt) || "running"}</span>
        ${item.error === null ? null : html`<div><strong class="error-name">${item.errorName ?? "Error"}</strong>: <span class="error-message">${item.error}</span></div>`}
        ${
          item.errorStack === null
            ? null
            : html`<details>
                <summary>stack</summary>
                <pre class="stack">${item.errorStack}</pre>
              </details>`
        }
      </li>`
    : html`<li class="event">
        <strong>${item.kind}</strong> after attempt ${item.attempt}
        <span class="muted">${instant(item.at)}</span>
        <pre>${jsonText(item.details)}</pre>
      </li>`;

const facts = (ctx: PageContext, task: TaskDetail): Html =>
  html`<dl class="facts">
    <dt>Queue</dt>
    <dd><a href="${href(ctx, "/tasks", { queue: task.queue })}">${task.queue}</a></dd>
    <dt>State</dt>
    <dd id="task-state" data-live-region data-state="${task.state}">${stateLabel(task.state)}</dd>
    <dt>Attempt</dt>
    <dd>${task.attempt} of ${task.maxAttempts}</dd>
    <dt>Priority</dt>
    <dd>${task.priority}</dd>
    ${
      task.concurrencyKey === null
        ? null
        : html`<dt>Concurrency key</dt>
            <dd>${task.concurrencyKey}</dd>`
    }
    ${
      task.jobId === null
        ? null
        : html`<dt>Job</dt>
            <dd>
              <a href="${href(ctx, `/jobs/${encodeURIComponent(task.jobId)}`)}">${task.jobId}</a> step
              ${task.stepIndex ?? 0}
            </dd>`
    }
    ${
      task.dlqFrom === null
        ? null
        : html`<dt>Dead-lettered from</dt>
            <dd>${task.dlqFrom}</dd>`
    }
    <dt>Created</dt>
    <dd>${instant(task.createdAt)}</dd>
    <dt>Run at</dt>
    <dd>${instant(task.runAt)}</dd>
    <dt>Started</dt>
    <dd>${instant(task.startedAt)}</dd>
    <dt>Finished</dt>
    <dd>${instant(task.finishedAt)}</dd>
    <dt>Lease</dt>
    <dd>
      ${task.lease === null ? html`<span class="muted">none</span>` : html`worker ${task.lease.workerId}, expires ${instant(task.lease.expiresAt)}`}
    </dd>
  </dl>`;

/** @internal One task: facts, input, output, options, lease and its attempt timeline. */
export const taskPage = async (ctx: PageContext, id: string): Promise<Html | undefined> => {
  const task = await ctx.timed(ctx.ops.task(id));
  if (task === undefined) return undefined;
  const finished = task.state === "succeeded" || task.state === "failed" || task.state === "cancelled";
  const base = `/tasks/${task.id}`;
  return html`<div class="actions">
      ${task.state === "failed" || task.state === "cancelled" ? actionForm(ctx, `${base}/retry`, "Retry", {}, "primary") : null}
      ${task.state === "pending" || task.state === "in_progress" ? actionForm(ctx, `${base}/cancel`, "Cancel") : null}
      ${finished ? actionForm(ctx, `${base}/delete`, "Delete", {}, "danger") : null}
    </div>
    <div class="grid" id="task-detail" data-live-region>
      <section class="panel">
        <h2>Task ${task.id}</h2>
        ${facts(ctx, task)}
      </section>
      <section class="panel">
        <h2>Input</h2>
        <pre id="task-input">${jsonText(task.input)}</pre>
        <h2>Output</h2>
        <pre id="task-output">${task.output === null ? "" : jsonText(task.output)}</pre>
      </section>
      <section class="panel">
        <h2>Options</h2>
        <pre>${jsonText(task.options)}</pre>
      </section>
    </div>
    <h2>Attempts and events</h2>
    <ol class="timeline" id="timeline" data-live-region>
      ${task.history.length === 0 ? html`<li class="muted">Not attempted yet.</li>` : task.history.map(entry)}
    </ol>`;
};
