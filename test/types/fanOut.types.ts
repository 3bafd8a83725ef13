// Type tests of fan-out, checked by `npm run typecheck` and never run: each
// line after `@ts-expect-error` must fail to compile, and each valid
// counterpart must compile.
import * as t from "io-ts";
import { DateFromISOString } from "../../examples/tasks/welcomeEmail.ts";
import { Steps, child, defineJob, defineStepJob, done, fanOut } from "../../src/index.ts";

const count = defineJob({ queue: "count", input: t.type({ n: t.number }), output: t.number });
const stamped = defineJob({ queue: "stamped", input: t.type({}), output: t.type({ at: DateFromISOString }) });
const parent = defineStepJob({ queue: "parent", input: t.type({}), output: t.unknown });

/** Children with JSON outputs: the next step gets them, typed, in order. */
export const counted = Steps.of(parent)
  .step(async () => fanOut([child(count, { n: 1 }), child(count, { n: 2 })]))
  .step(async ([a, b]) => done(a + b));

/**
 * A child whose output is not its JSON form (a Date) is refused, as
 * `next(date)` is: values between steps arrive as stored JSON, so the next
 * step would be told `Date` and get a string.
 */
export const stampedRefused = Steps.of(parent)
  // @ts-expect-error the child's output holds a Date, which reaches the next step as a string
  .step(async () => fanOut([child(stamped, {})]))
  .step(async (outputs) => done(outputs));

/** The same with `onChildFailure: "continue"`. */
export const stampedResultsRefused = Steps.of(parent)
  // @ts-expect-error each ChildResult's output holds a Date
  .step(async () => fanOut([child(stamped, {})], { onChildFailure: "continue" }))
  .step(async (results) => done(results));
