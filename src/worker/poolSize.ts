import type pg from "pg";
import { ConfigError } from "../errors.ts";

/**
 * Connections a worker needs at once besides its handlers': a claim, a
 * lease renewal and a result write can all be in flight together.
 */
export const workerConnections = 2;

/** pg's default when a pool is made without `max`. */
const pgDefaultMax = 10;

const poolMax = (pool: pg.Pool): number => pool.options.max ?? pgDefaultMax;

/**
 * The concurrency of a transactional worker given none: the usual default
 * (10), or less if the pool cannot serve that many (8 on underway's own pool
 * of 10), so that the defaults work together. An explicit concurrency is
 * taken as meant and checked by {@link checkPoolSize}.
 */
export const transactionalConcurrency = (
  pool: pg.Pool,
  asked: number | undefined,
  fallback: number,
): number => asked ?? Math.max(1, Math.min(fallback, poolMax(pool) - workerConnections));

/**
 * Throws a `ConfigError` when a worker whose handlers may each hold a
 * connection for their whole run (transactional handlers) could take every
 * connection of its pool: its claims and lease renewals would then wait
 * behind its own handlers, its leases would expire, and its tasks would be
 * aborted and run again, over and over. Thrown, not warned: the failure it
 * prevents looks like flaky tasks far from its cause.
 */
export const checkPoolSize = (pool: pg.Pool, concurrency: number, where: string): void => {
  const max = poolMax(pool);
  const needed = concurrency + workerConnections;
  if (needed <= max) return;
  const lower = max - workerConnections >= 1 ? `lower concurrency to ${max - workerConnections}, or ` : "";
  throw new ConfigError(
    `${where} runs transactional handlers, and each holds a pool connection while it runs: ` +
      `concurrency ${concurrency} needs a pool of at least ${needed} connections ` +
      `(${concurrency} handlers + ${workerConnections} for claims, lease renewals and results), ` +
      `but the pool's max is ${max}. To fix it, ${lower}give underway a bigger pool: ` +
      `Underway.connect({ pool: new pg.Pool({ max: ${needed} }) }) (underway's own pool has ${pgDefaultMax}). ` +
      `Workers sharing a pool add up.`,
  );
};
