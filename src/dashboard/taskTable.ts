import { html, type Html } from "./html.ts";
import { ageOf, instant } from "./format.ts";
import { href, type PageContext } from "./pageContext.ts";
import type { TaskState, TaskSummary } from "./opsContract.ts";

/** @internal A state as a coloured label. */
export const stateLabel = (state: TaskState | string): Html =>
  html`<span class="state ${state}">${state.replace("_", " ")}</span>`;

/** @internal Tasks as rows; with `selectable`, a checkbox per row named `ids`, inside the caller's form. */
export const taskTable = (
  ctx: PageContext,
  id: string,
  tasks: ReadonlyArray<TaskSummary>,
  options: {
    readonly selectable?: boolean;
    readonly showStep?: boolean;
    /** In a dead-letter queue: the queue each task came from, not the DLQ's own name. */
    readonly showOrigin?: boolean;
    /** The search stopped at its bound: an empty page means none so far, not none at all. */
    readonly partial?: boolean;
  } = {},
): Html => {
  const selectable = options.selectable === true && ctx.canAct;
  return html`<div class="scroll">
    <table id="${id}" data-live-region>
      <thead>
        <tr>
          ${selectable ? html`<th><input type="checkbox" data-select-all aria-label="select all on this page" /></th>` : null}
          ${options.showStep === true ? html`<th class="num">Step</th>` : null}
          <th class="num">Id</th>
          <th>${options.showOrigin === true ? "From queue" : "Queue"}</th>
          <th>State</th>
          <th class="num">Attempt</th>
          <th>Last error</th>
          <th>Created</th>
          <th>Run at</th>
          <th>Finished</th>
        </tr>
      </thead>
      <tbody>
        ${
          tasks.length === 0
            ? html`<tr>
                <td colspan="9" class="muted">
                  ${options.partial === true ? "No tasks match so far." : "No tasks match."}
                </td>
              </tr>`
            : null
        }
        ${tasks.map(
          (task) =>
            html`<tr data-task-id="${task.id}" data-state="${task.state}">
              ${selectable ? html`<td><input type="checkbox" name="ids" value="${task.id}" aria-label="select task ${task.id}" /></td>` : null}
              ${options.showStep === true ? html`<td class="num">${task.stepIndex ?? ""}</td>` : null}
              <td class="num"><a href="${href(ctx, `/tasks/${task.id}`)}">${task.id}</a></td>
              <td class="queue">
                ${
                  options.showOrigin === true
                    ? (task.dlqFrom ?? task.queue)
                    : task.dlqFrom === null
                      ? task.queue
                      : html`${task.queue} <span class="muted">from ${task.dlqFrom}</span>`
                }
              </td>
              <td>${stateLabel(task.state)}</td>
              <td class="num">${task.attempt}/${task.maxAttempts}</td>
              <td class="error">${task.error === null ? null : task.error.slice(0, 200)}</td>
              <td title="${instant(task.createdAt)}">${ageOf(task.createdAt, ctx.now)} ago</td>
              <td>${instant(task.runAt)}</td>
              <td>${instant(task.finishedAt)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
};
