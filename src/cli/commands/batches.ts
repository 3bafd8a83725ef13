import type { BatchInfo } from "../../ops/batchInfo.ts";
import { checkBatchId } from "../../identifier.ts";
import { UsageError } from "../args.ts";
import { CliError, exitCode, type Command } from "../command.ts";
import { fields, formatDate, printable } from "../table.ts";

const json = (value: unknown): string => JSON.stringify(value, null, 2);

const detail = (batch: BatchInfo): string => {
  const ended = batch.total - batch.remaining;
  return (
    fields([
      ["batch", batch.id],
      ["queue", printable(batch.queue)],
      ["progress", `${ended} of ${batch.total} ended, ${batch.remaining} remaining`],
      ["succeeded", String(batch.succeeded)],
      ["failed", String(batch.failed)],
      ["cancelled", String(batch.cancelled)],
      ["created", formatDate(batch.createdAt)],
      ["completed", batch.completedAt === null ? "not yet" : formatDate(batch.completedAt)],
      [
        "callback",
        batch.callbackQueue === null
          ? "none"
          : batch.callbackTaskId === null
            ? `${printable(batch.callbackQueue)}, enqueued at the batch's end`
            : `task ${batch.callbackTaskId} (${printable(batch.callbackQueue)})`,
      ],
    ]) +
    (batch.failedIds.length === 0
      ? ""
      : `failed ids${batch.failed > batch.failedIds.length ? ` (the first ${batch.failedIds.length} of ${batch.failed})` : ""}:\n  ${batch.failedIds.join(" ")}\n`) +
    `context:\n${json(batch.context)}\n`
  );
};

/** `underway batches show <id>`: one batch's progress (ops.batch). */
export const batchesShowCommand: Command = {
  name: "batches show",
  summary: "one batch (enqueueBatch): members ended by outcome, failed ids, context, callback task",
  args: "<id>",
  options: {},
  examples: ["underway batches show 42", "underway batches show 42 --json | jq .remaining"],
  run: async (input) => {
    const [id, ...extra] = input.parsed.positionals;
    if (id === undefined) throw new UsageError("name the batch: underway batches show <id>");
    if (extra.length > 0)
      throw new UsageError(`one batch id at a time, got ${input.parsed.positionals.length}`);
    checkBatchId(id);
    const underway = await input.connect();
    const batch = await underway.ops.batch(id);
    if (batch === undefined) throw new CliError(`no batch ${id} in schema ${input.schema}`);
    if (input.json) input.printJson(batch);
    else input.out(detail(batch));
    return exitCode.ok;
  },
};
