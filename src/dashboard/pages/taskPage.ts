import { unknownEstimateText } from "../../ops/explain.ts";
import { html, jsonText, type Html } from "../html.ts";
import { duration, instant } from "../format.ts";
import { actionForm, href, type PageContext } from "../pageContext.ts";
import type { HistoryEntry } from "../../history.ts";
import type { AttemptLog, TaskDetail, TaskExplanation } from "../opsContract.ts";
import { stateLabel } from "../taskTable.ts";

const entry = (ctx: PageContext, item: HistoryEntry): Html =>
  item._tag === "attempt"
    ? html`<li class="${item.state}" data-attempt="${item.attempt}">
        <strong>Attempt ${item.attempt}</strong> ${stateLabel(item.state)}
        <span class="duration" title="${item.finishedAt === null ? "so far" : "duration"}"
          >${duration(item.startedAt, item.finishedAt, ctx.now)}</span
        >
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

/** Running, and asked to stop: it ends cancelled when its handler returns. */
const cancelling = (task: TaskDetail): boolean =>
  task.state === "in_progress" && task.cancelRequestedAt !== null;

const ms = (value: number): string => (value % 1_000 === 0 ? `${value / 1_000} s` : `${value} ms`);

/** The options as an operator reads them, not as stored. */
const options = (task: TaskDetail): Html => {
  const o = task.options;
  const jitter = o.retryJitter === 0 ? "" : `, jitter ${Math.round(o.retryJitter * 100)}%`;
  return html`<dl class="facts" id="task-options">
    <dt>Attempts</dt>
    <dd>at most ${o.maxAttempts}</dd>
    <dt>Retry backoff</dt>
    <dd>${ms(o.retryInitialMs)} × ${o.retryCoefficient} per attempt, at most ${ms(o.retryMaxMs)}${jitter}</dd>
    <dt>Timeout</dt>
    <dd>${ms(o.timeoutMs)} per attempt</dd>
    <dt>Heartbeat</dt>
    <dd>every ${ms(o.heartbeatMs)}</dd>
    <dt>Kept after finishing</dt>
    <dd>${ms(o.ttlMs)}</dd>
    <dt>Priority</dt>
    <dd>${o.priority}</dd>
    <dt>Concurrency</dt>
    <dd>
      ${o.concurrencyKey === null ? html`<span class="muted">no key</span>` : html`key <code>${o.concurrencyKey}</code>, at most ${o.concurrencyLimit} at once`}
    </dd>
    <dt>Unique key</dt>
    <dd>
      ${o.uniqueKey === null ? html`<span class="muted">none</span>` : html`<code>${o.uniqueKey}</code>`}
    </dd>
    <dt>Rate budget</dt>
    <dd>
      ${o.rateLimitKey === null ? html`<span class="muted">the queue's own</span>` : html`key <code>${o.rateLimitKey}</code>`}
    </dd>
  </dl>`;
};

const output = (task: TaskDetail): Html => {
  if (task.output !== null) return html`<pre id="task-output">${jsonText(task.output)}</pre>`;
  const why =
    task.state === "succeeded"
      ? "null (the handler returned nothing)"
      : task.state === "pending" || task.state === "in_progress"
        ? "none yet: it has not succeeded"
        : `none: it ${task.state === "failed" ? "failed" : "was cancelled"}`;
  return html`<p id="task-output" class="muted" data-empty>${why}</p>`;
};

const facts = (ctx: PageContext, task: TaskDetail): Html =>
  html`<dl class="facts">
    <dt>Queue</dt>
    <dd><a href="${href(ctx, "/tasks", { queue: task.queue })}">${task.queue}</a></dd>
    <dt>State</dt>
    <dd
      id="task-state"
      data-live-region
      data-state="${task.state}"
      data-cancel-requested="${cancelling(task)}"
    >
      ${stateLabel(task.state)}
      ${cancelling(task) ? html`<span class="state cancel-requested">cancel requested</span>` : null}
    </dd>
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
      task.group === null
        ? null
        : html`<dt>Group</dt>
            <dd>${task.group}</dd>`
    }
    ${
      task.batchId === null
        ? null
        : html`<dt>Batch</dt>
            <dd>
              <a id="task-batch" href="${href(ctx, `/batches/${task.batchId}`)}">batch ${task.batchId}</a>
            </dd>`
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
            <dd>
              <a id="dlq-from" href="${href(ctx, "/tasks", { queue: task.dlqFrom })}">${task.dlqFrom}</a>
            </dd>`
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
      ${
        task.lease === null
          ? html`<span class="muted">none</span>`
          : html`worker
              <a id="lease-worker" href="${href(ctx, "/workers")}"><code>${task.lease.workerId}</code></a
              >, expires ${instant(task.lease.expiresAt)}`
      }
    </dd>
  </dl>`;

/** For a task not yet ended: why it is not running and when it may (ops.explain). */
const why = (explanation: TaskExplanation): Html =>
  html`<section class="panel" id="task-why" data-runnable="${explanation.runnable}">
    <h2>Why isn't it running?</h2>
    <p>${explanation.summary}</p>
    ${
      explanation.reasons.length === 0
        ? null
        : html`<ul>
            ${explanation.reasons.map((reason) => html`<li data-kind="${reason.kind}"><strong>${reason.kind}</strong>: ${reason.message}</li>`)}
          </ul>`
    }
    ${
      explanation.state === "pending"
        ? html`<p class="muted">
            Estimated start:
            ${explanation.estimatedStartAt === null ? `unknown (${unknownEstimateText(explanation)})` : instant(explanation.estimatedStartAt)}
          </p>`
        : null
    }
  </section>`;

/** @internal A task's latest `ctx.progress` value, when its handler reported one. */
export const progressOf = (task: TaskDetail): Html | null =>
  task.progress === null
    ? null
    : html`<div class="progress" data-attempt="${task.progress.attempt}">
        <span class="muted"
          >progress (attempt ${task.progress.attempt}, ${instant(task.progress.updatedAt)})</span
        >
        <pre class="task-progress">${jsonText(task.progress.value)}</pre>
      </div>`;

// Each attempt's log as the handler wrote it (ctx.log): lines are text, escaped by html``.
const logs = (attempts: ReadonlyArray<AttemptLog>): Html | null =>
  attempts.length === 0
    ? null
    : html`<h2>Logs</h2>
        <div id="task-logs" data-live-region>
          ${attempts.map(
            ({ attempt, cut, lines }) =>
              html`<details class="log" data-attempt="${attempt}" open>
                <summary>
                  ${`Attempt ${attempt}: ${lines.length} line${lines.length === 1 ? "" : "s"}${cut === 0 ? "" : `, ${cut} older cut`}`}
                </summary>
                <pre class="log-lines">
${lines.map((line) => `${instant(line.at)}  ${line.message}\n`).join("")}</pre>
              </details>`,
          )}
        </div>`;

/** @internal One task: facts, input, output, progress, options, lease, its attempt timeline and its logs. */
export const taskPage = async (ctx: PageContext, id: string): Promise<Html | undefined> => {
  const task = await ctx.timed(ctx.ops.task(id));
  if (task === undefined) return undefined;
  const finished = task.state === "succeeded" || task.state === "failed" || task.state === "cancelled";
  const explanation = finished ? undefined : await ctx.timed(ctx.ops.explain(id));
  const attemptLogs = task.logLines === 0 ? [] : await ctx.timed(ctx.ops.taskLogs(id));
  const base = `/tasks/${task.id}`;
  const cancellable = task.state === "pending" || (task.state === "in_progress" && !cancelling(task));
  return html`<div class="actions" id="task-actions" data-live-region>
      ${task.state === "failed" || task.state === "cancelled" ? actionForm(ctx, `${base}/retry`, "Retry", {}, "primary") : null}
      ${cancellable ? actionForm(ctx, `${base}/cancel`, "Cancel", {}, "danger") : null}
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
        ${output(task)}
        ${
          task.progress === null
            ? null
            : html`<h2>Progress</h2>
                ${progressOf(task)}`
        }
      </section>
      <section class="panel">
        <h2>Options</h2>
        ${options(task)}
      </section>
      ${explanation === undefined ? null : why(explanation)}
    </div>
    <h2>Attempts and events</h2>
    <ol class="timeline" id="timeline" data-live-region>
      ${task.history.length === 0 ? html`<li class="muted">Not attempted yet.</li>` : task.history.map((item) => entry(ctx, item))}
    </ol>
    ${logs(attemptLogs)}`;
};
