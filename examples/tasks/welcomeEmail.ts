// The task type, defined once: the process that enqueues and the process
// that works both import this module, so they agree on the queue, the input
// and output types and the task options.
import * as t from "io-ts";
import { defineJob } from "../../src/index.ts";

/** An ISO-8601 string in the database, a `Date` in every process that reads it. */
export const DateFromISOString = new t.Type<Date, string, unknown>(
  "DateFromISOString",
  (value): value is Date => value instanceof Date,
  (value, context) => {
    const date = typeof value === "string" ? new Date(value) : undefined;
    return date !== undefined && !Number.isNaN(date.getTime()) ? t.success(date) : t.failure(value, context);
  },
  (date) => date.toISOString(),
);

export const WelcomeEmail = t.type({ userId: t.number, email: t.string, name: t.string });
export type WelcomeEmail = t.TypeOf<typeof WelcomeEmail>;

export const welcomeEmail = defineJob({
  queue: "email",
  dlq: "email_dlq",
  input: WelcomeEmail,
  output: t.type({ sentAt: DateFromISOString }),
  options: { retry: { maxAttempts: 3, initialIntervalMs: 200 } },
});
