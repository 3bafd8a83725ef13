import type { JobDefinition } from "../definition.ts";
import { ConfigError } from "../errors.ts";

type AnyDefinition = JobDefinition<unknown, unknown, unknown, unknown>;

/** What a second definition of a bound queue must share with the first, and how to say it differs. */
const differences: ReadonlyArray<readonly [string, (a: AnyDefinition, b: AnyDefinition) => boolean]> = [
  ["kind (a job and a multi-step job)", (a, b) => a.kind === b.kind],
  ["input schema", (a, b) => a.schemas.input === b.schemas.input],
  ["output schema", (a, b) => a.schemas.output === b.schemas.output],
  ["dead-letter queue", (a, b) => a.dlq === b.dlq],
];

/**
 * The definition each queue is bound to on one client. Two definitions of
 * one queue that read its tasks differently take each other's tasks and
 * fail them (a `ValidationError` for every input the other one enqueued),
 * so the second is refused where the library can see it: on the client
 * that binds both. Definitions built with the same schemas (a helper that
 * defines a queue with other options) read tasks alike and may share it.
 */
export class QueueBindings {
  private readonly bound = new Map<string, AnyDefinition>();

  /** Binds `definition` to its queue, or throws a `ConfigError` naming what differs from the one bound. */
  bind(definition: AnyDefinition): void {
    const first = this.bound.get(definition.queue);
    if (first === undefined) {
      this.bound.set(definition.queue, definition);
      return;
    }
    if (first === definition) return;
    const differing = differences.filter(([, same]) => !same(first, definition)).map(([what]) => what);
    if (differing.length > 0)
      throw new ConfigError(
        `queue ${definition.queue} already belongs to another definition on this client, with a different ${differing.join(", ")} ` +
          `(schemas are compared as objects: two built alike are still two): workers of each could take the other's tasks ` +
          `and fail them. Define the job once, in a module producers and workers both import, or give each definition its own queue name.`,
      );
  }
}
