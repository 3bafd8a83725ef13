/**
 * Connections each system may open for its own pool. Set alike for every
 * system (rather than each library's default, mostly 10) so the single-enqueue
 * workload's 16 calls in flight are not queued behind a smaller pool.
 */
export const poolSize = 20;
