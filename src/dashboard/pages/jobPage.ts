import { html, type Html } from "../html.ts";
import { actionForm, type PageContext } from "../pageContext.ts";
import { taskTable } from "../taskTable.ts";

// A job has a handful of steps; more than this is not a job page any more.
const maxSteps = 1000;

/** @internal The tasks of one multi-step job, in step order. */
export const jobPage = async (ctx: PageContext, jobId: string): Promise<Html> => {
  const page = await ctx.timed(ctx.ops.tasks({ jobId }, { limit: maxSteps, order: "oldest" }));
  const steps = [...page.tasks].sort(
    (a, b) => (a.stepIndex ?? 0) - (b.stepIndex ?? 0) || Number(BigInt(a.id) - BigInt(b.id)),
  );
  const running = steps.some((t) => t.state === "pending" || t.state === "in_progress");
  return html`<p class="muted">Each step is its own task; a step's output is the next step's input.</p>
    ${running ? html`<div class="actions">${actionForm(ctx, "/tasks/bulk", "Cancel job", { job: jobId, do: "cancel:matching" }, "danger")}</div>` : null}
    ${taskTable(ctx, "steps", steps, { showStep: true })}`;
};
