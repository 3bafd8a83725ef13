import type * as t from "io-ts";
import { checkQueueName } from "./identifier.ts";

/** What defines a queue: its name, its input codec, and an optional dead-letter queue. */
export interface QueueDefinition<C extends t.Mixed> {
  readonly name: string;
  /** io-ts codec of the queue's task input: `decode` validates on enqueue, `encode` serialises. */
  readonly input: C;
  /** Name of the queue that receives tasks failed for good. Created if missing. */
  readonly dlq?: string;
}

/**
 * A named queue of one task type. Create it with `underway.queue(...)`;
 * run it with a `Job`.
 */
export class Queue<I, IO = unknown> {
  private constructor(
    readonly name: string,
    readonly input: t.Type<I, IO, unknown>,
    readonly dlq: string | null,
  ) {}

  /** @internal Validates names; used by `Underway.queue`. */
  static define<C extends t.Mixed>(definition: QueueDefinition<C>): Queue<t.TypeOf<C>, t.OutputOf<C>> {
    const name = checkQueueName(definition.name);
    const dlq = definition.dlq === undefined ? null : checkQueueName(definition.dlq);
    if (dlq === name) throw new RangeError(`queue ${name} cannot be its own dead-letter queue`);
    return new Queue(name, definition.input, dlq);
  }
}
