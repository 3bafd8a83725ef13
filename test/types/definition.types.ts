// Type tests, checked by `npm run typecheck` and never run: each line after
// `@ts-expect-error` must fail to compile (tsc reports an unused directive
// otherwise), and each valid counterpart must compile. Without an output
// schema, what a handler returns and what one step hands the next is stored
// as jsonb and read back in another process: only JSON may pass.
import * as t from "io-ts";
import * as v from "valibot";
import { z } from "zod";
import { DateFromISOString } from "../../examples/tasks/welcomeEmail.ts";
import { Steps, defineJob, defineStepJob, done, next, type Underway } from "../../src/index.ts";

const N = t.type({ n: t.number });
const plain = defineJob({ queue: "plain", input: N });
const dated = defineJob({ queue: "dated", input: N, output: t.type({ at: DateFromISOString }) });
const stepped = defineStepJob({ queue: "stepped", input: N });
const steppedDated = defineStepJob({ queue: "stepped_dated", input: N, output: DateFromISOString });

/** Handlers without an output schema return JSON only. */
export const handlerReturns = (underway: Underway): void => {
  const job = underway.job(plain);
  // @ts-expect-error a Date is not JSON: it would come back as a string
  job.start(async () => ({ at: new Date() }));
  job.start(async () => ({ at: new Date().toISOString() }));

  // @ts-expect-error a bigint is not JSON
  job.start(async () => ({ big: 1n }));
  job.start(async () => ({ big: String(1n) }));

  // @ts-expect-error a Map is not JSON: it would be stored as {}
  job.start(async () => new Map([["a", 1]]));
  job.start(async () => Object.fromEntries(new Map([["a", 1]])));

  // @ts-expect-error a function is not JSON
  job.start(async () => ({ callback: () => 1 }));
  job.start(async () => ({ callback: "named" }));

  // Returning nothing is a success, stored as null (issue 19).
  job.start(async () => undefined);
  job.start(async () => {});
  job.start(async ({ n }) => {
    await Promise.resolve(n);
  });
  job.start(async () => null);

  job.start(async ({ n }) => ({ nested: [n, "two", true, null, { deep: [1.5] }] }));
};

/** With an output schema, a handler returns the schema's type, and readers get it back. */
export const outputSchemas = async (underway: Underway): Promise<void> => {
  const job = underway.job(dated);
  job.start(async () => ({ at: new Date() }));
  // @ts-expect-error with an output schema, the schema decides: returning nothing does not match it
  job.start(async () => {});
  // @ts-expect-error the output schema wants a Date here, not its JSON form
  job.start(async () => ({ at: new Date().toISOString() }));
  const at: Date = (await job.result("1")).at;
  const outcome = await job.outcome("1");
  if (outcome._tag === "succeeded") {
    const fromOutcome: Date = outcome.output.at;
    void fromOutcome;
  }
  job.outcomes$.subscribe((streamed) => {
    if (streamed._tag === "succeeded") {
      const fromStream: Date = streamed.output.at;
      void fromStream;
    }
  });
  void at;

  // Standard Schema: inputs typed by the schema's input, handlers by its output.
  const zodJob = underway.job(
    defineJob({
      queue: "zod",
      input: z.object({ name: z.string().transform((name) => name.length) }),
      output: z.object({ at: z.iso.datetime().transform((text) => new Date(text)) }),
    }),
  );
  await zodJob.enqueue({ name: "ferris" });
  // @ts-expect-error the input schema wants a string
  await zodJob.enqueue({ name: 5 });
  zodJob.start(async ({ name }) => ({ at: new Date(name).toISOString() }));
  // @ts-expect-error the handler receives the transformed input: a number
  zodJob.start(async ({ name }: { name: string }) => ({ at: name }));
  const zodAt: Date = (await zodJob.result("1")).at;
  void zodAt;

  const valibotJob = underway.job(
    defineJob({
      queue: "valibot",
      input: v.object({ n: v.number() }),
      output: v.object({ ok: v.boolean() }),
    }),
  );
  // @ts-expect-error the input schema wants a number
  await valibotJob.enqueue({ n: "1" });
  // @ts-expect-error the output schema wants a boolean
  valibotJob.start(async () => ({ ok: "yes" }));
  valibotJob.start(async ({ n }) => ({ ok: n > 0 }));
};

/** Values handed between steps are JSON; a done value follows the output schema, if any. */
export const stepValues = (underway: Underway): void => {
  Steps.of(stepped)
    // @ts-expect-error a Date handed to the next step would arrive as a string
    .step(async () => next(new Date()));
  Steps.of(stepped).step(async () => next(new Date().toISOString()));

  Steps.of(stepped)
    // @ts-expect-error a bigint cannot be handed to the next step
    .step(async () => next({ big: 1n }));

  Steps.of(stepped)
    // @ts-expect-error without an output schema the job's output is JSON: no Date
    .step(async () => done(new Date()));
  Steps.of(stepped).step(async () => done(new Date().toISOString()));

  // With an output schema the done value is its type.
  const withDate = Steps.of(steppedDated)
    .step(async ({ n }) => next({ ms: n }))
    .step(async ({ ms }) => done(new Date(ms)));
  underway.job(steppedDated).start(withDate);
};
