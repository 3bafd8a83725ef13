import { ConfigError } from "../errors.ts";
import type { WorkOptions } from "./worker.ts";

const positiveInteger = (name: string, value: number | undefined): void => {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1))
    throw new ConfigError(`${name} must be an integer >= 1, got ${String(value).slice(0, 100)}`);
};

/** Validates a worker's options, throwing a `ConfigError` that names the bad one. */
export const checkWorkOptions = (options: WorkOptions): void => {
  positiveInteger("concurrency", options.concurrency);
  positiveInteger("prefetch", options.prefetch);
};
