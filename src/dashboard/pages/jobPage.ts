import { html, jsonText, type Html } from "../html.ts";
import { actionForm, href, type PageContext } from "../pageContext.ts";
import { stateLabel, taskTable } from "../taskTable.ts";
import type { JobFanOut, TaskDetail } from "../opsContract.ts";
import { jobGraph } from "./jobGraph.ts";
import { progressOf } from "./taskPage.ts";

// A job has a handful of steps; more than this is not a job page any more.
const maxSteps = 1000;
// Steps whose output the page shows (each is one more read).
const maxOutputs = 50;

// A step stores what it returned, `next(value)` or `done(value)`, as
// { _tag, value, delayMs }: shown as the value, and what it led to.
const stepResult = (output: unknown): Html => {
  const stored = output as { _tag?: unknown; value?: unknown; delayMs?: unknown } | null;
  if (typeof stored !== "object" || stored === null || (stored._tag !== "next" && stored._tag !== "done"))
    return html`<pre>${jsonText(output)}</pre>`;
  const delay = typeof stored.delayMs === "number" && stored.delayMs > 0 ? ` after ${stored.delayMs} ms` : "";
  return html`<div class="muted">
      ${stored._tag === "done" ? "done: the job's output" : `next step${delay}, given`}
    </div>
    <pre>${jsonText(stored.value ?? null)}</pre>`;
};

// A fan-out: its children's progress and where it stands, linked to their batch.
const fanOutItem = (ctx: PageContext, fan: JobFanOut): Html => {
  const ended = fan.succeeded + fan.failed + fan.cancelled;
  const where =
    fan.settled === null
      ? `waiting: ${ended} of ${fan.total} children ended`
      : fan.settled === "continued"
        ? `continued to step ${fan.stepIndex}`
        : `${fan.settled}: ${fan.error ?? ""}`;
  return html`<li data-fan-out="${fan.batchId}" data-settled="${fan.settled ?? "waiting"}">
    <strong>Step ${fan.stepIndex - 1} fanned out</strong> to ${fan.total} children (on a failed child:
    ${fan.policy})
    <a href="${href(ctx, `/batches/${fan.batchId}`)}">batch ${fan.batchId}</a>
    <div class="muted">
      ${where}; ${fan.succeeded} succeeded, ${fan.failed} failed, ${fan.cancelled} cancelled
    </div>
  </li>`;
};

const stepOutput = (ctx: PageContext, step: TaskDetail): Html =>
  html`<li data-step="${step.stepIndex ?? 0}" data-state="${step.state}">
    <strong>Step ${step.stepIndex ?? 0}</strong> ${stateLabel(step.state)}
    <a href="${href(ctx, `/tasks/${step.id}`)}">task ${step.id}</a>
    ${
      step.output === null
        ? html`<div class="muted">${step.state === "succeeded" ? "null" : "no output yet"}</div>`
        : stepResult(step.output)
    }
    ${step.error === null || step.state === "succeeded" ? null : html`<div class="error">${step.error}</div>`}
    ${progressOf(step)}
  </li>`;

/** @internal One multi-step job: its graph (steps and fan-outs), its state, its input, and each step's state and output, in step order. */
export const jobPage = async (ctx: PageContext, jobId: string): Promise<Html> => {
  const page = await ctx.timed(ctx.ops.tasks({ jobId }, { limit: maxSteps, order: "oldest" }));
  const steps = [...page.tasks].sort(
    (a, b) => (a.stepIndex ?? 0) - (b.stepIndex ?? 0) || Number(BigInt(a.id) - BigInt(b.id)),
  );
  const details = (
    await ctx.timed(Promise.all(steps.slice(0, maxOutputs).map((step) => ctx.ops.task(step.id))))
  ).flatMap((detail) => (detail === undefined ? [] : [detail]));
  const fanOuts = await ctx.timed(ctx.ops.fanOuts(jobId));
  const waiting = fanOuts.some((fan) => fan.settled === null);
  const running = waiting || steps.some((t) => t.state === "pending" || t.state === "in_progress");
  // The latest step says where the job stands: a job is done when its last step is.
  const latest = steps[steps.length - 1];
  const first = details[0];
  return html`<p class="muted">Each step is its own task; a step's output is the next step's input.</p>
    ${running ? html`<div class="actions">${actionForm(ctx, "/tasks/bulk", "Cancel job", { job: jobId, do: "cancel:matching" }, "danger")}</div>` : null}
    <section class="panel" id="job-graph-panel" data-live-region>
      <h2>Graph</h2>
      ${jobGraph(ctx, steps, fanOuts)}
    </section>
    <div class="grid" id="job-detail" data-live-region>
      <section class="panel">
        <h2>Job</h2>
        <dl class="facts">
          <dt>State</dt>
          <dd id="job-state" data-state="${latest?.state ?? ""}">
            ${latest === undefined ? html`<span class="muted">no steps</span>` : html`${stateLabel(latest.state)} at step ${latest.stepIndex ?? 0}`}
          </dd>
          <dt>Steps so far</dt>
          <dd>${steps.length}</dd>
        </dl>
        <h2>Input</h2>
        ${first === undefined ? html`<p class="muted">unknown</p>` : html`<pre id="job-input">${jsonText(first.input)}</pre>`}
      </section>
      <section class="panel">
        <h2>Steps and their output</h2>
        <ol class="timeline" id="step-outputs">
          ${details.map((step) => stepOutput(ctx, step))}
        </ol>
        ${steps.length > maxOutputs ? html`<p class="muted">The first ${maxOutputs} steps are shown.</p>` : null}
        ${
          fanOuts.length === 0
            ? null
            : html`<h2>Fan-outs</h2>
                <ol class="timeline" id="job-fan-outs">
                  ${fanOuts.map((fan) => fanOutItem(ctx, fan))}
                </ol>`
        }
      </section>
    </div>
    ${taskTable(ctx, "steps", steps, { showStep: true })}`;
};
