import { html, type Html } from "../html.ts";
import type { JobFanOut, TaskSummary } from "../opsContract.ts";
import { href, type PageContext } from "../pageContext.ts";
import { stateLabel } from "../taskTable.ts";

// Steps drawn; a job page lists up to 1,000, a graph that long reads as none.
const maxNodes = 100;
// The children's bar, in SVG units: its segments' widths are attributes, so
// the dashboard's CSP (styles only from its own stylesheet) allows them.
const barWidth = 120;

/** One node of the graph: a step's task, or a fan-out between two steps. */
type Node =
  | { readonly _tag: "step"; readonly step: TaskSummary }
  | { readonly _tag: "fanOut"; readonly fan: JobFanOut };

/**
 * The job's nodes in the order they ran: each step, and before the step
 * that received a fan-out's results, that fan-out (its `stepIndex` is the
 * receiving step's). A fan-out still waiting comes after the last step.
 */
/** @internal */
export const jobNodes = (
  steps: ReadonlyArray<TaskSummary>,
  fanOuts: ReadonlyArray<JobFanOut>,
): ReadonlyArray<Node> => {
  const pending = [...fanOuts].sort((a, b) => a.stepIndex - b.stepIndex);
  const nodes: Node[] = [];
  for (const step of steps) {
    while (pending.length > 0 && (pending[0]?.stepIndex ?? 0) <= (step.stepIndex ?? 0))
      nodes.push({ _tag: "fanOut", fan: pending.shift() as JobFanOut });
    nodes.push({ _tag: "step", step });
  }
  for (const fan of pending) nodes.push({ _tag: "fanOut", fan });
  return nodes;
};

// Succeeded, failed, cancelled, then what is left, left to right.
const childrenBar = (fan: JobFanOut): Html => {
  const widthOf = (count: number): number => (fan.total === 0 ? 0 : (barWidth * count) / fan.total);
  const segments: Array<[string, number]> = [
    ["ok", fan.succeeded],
    ["bad", fan.failed],
    ["off", fan.cancelled],
  ];
  let x = 0;
  const rects = segments.map(([kind, count]) => {
    const rect = html`<rect
      class="${kind}"
      x="${x.toFixed(2)}"
      width="${widthOf(count).toFixed(2)}"
      height="8"
    />`;
    x += widthOf(count);
    return rect;
  });
  return html`<svg
    class="children-bar"
    viewBox="0 0 ${barWidth} 8"
    width="${barWidth}"
    height="8"
    aria-hidden="true"
  >
    <rect class="left" width="${barWidth}" height="8" />
    ${rects}
  </svg>`;
};

const stepNode = (ctx: PageContext, step: TaskSummary): Html =>
  html`<li class="node step" data-step="${step.stepIndex ?? 0}" data-state="${step.state}">
    <a href="${href(ctx, `/tasks/${step.id}`)}">Step ${step.stepIndex ?? 0}</a> ${stateLabel(step.state)}
  </li>`;

const fanOutNode = (ctx: PageContext, fan: JobFanOut): Html => {
  const left = fan.total - fan.succeeded - fan.failed - fan.cancelled;
  return html`<li
    class="node fan-out"
    data-fan-out="${fan.batchId}"
    data-settled="${fan.settled ?? "waiting"}"
    data-counts="${`${fan.succeeded}/${fan.failed}/${fan.cancelled}/${left}`}"
  >
    <a href="${href(ctx, `/batches/${fan.batchId}`)}">${fan.total} children</a>
    ${fan.settled === null ? html`<span class="state in_progress">waiting</span>` : stateLabel(fan.settled === "continued" ? "succeeded" : fan.settled)}
    ${childrenBar(fan)}
    <small class="muted"
      >${fan.succeeded} succeeded, ${fan.failed} failed, ${fan.cancelled} cancelled, ${left} to go</small
    >
  </li>`;
};

/**
 * @internal A multi-step job as a graph, left to right: each step with its
 * state, linked to its task, and each fan-out between the step that started
 * it and the one that received its children's results, with the children's
 * ends as a bar, linked to their batch. Inside the job page's live region,
 * so it moves with the job.
 */
export const jobGraph = (
  ctx: PageContext,
  steps: ReadonlyArray<TaskSummary>,
  fanOuts: ReadonlyArray<JobFanOut>,
): Html => {
  const nodes = jobNodes(steps, fanOuts);
  const shown = nodes.slice(0, maxNodes);
  return html`<ol class="job-graph" id="job-graph" aria-label="The job's steps and fan-outs, in order">
      ${shown.map((node, index) => [
        index === 0 ? null : html`<li class="edge" aria-hidden="true">→</li>`,
        node._tag === "step" ? stepNode(ctx, node.step) : fanOutNode(ctx, node.fan),
      ])}
    </ol>
    ${nodes.length > maxNodes ? html`<p class="muted">The first ${maxNodes} of ${nodes.length} nodes are drawn.</p>` : null}`;
};
