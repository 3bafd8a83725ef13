// Type tests, checked by `npm run typecheck` and never run (see
// ./definition.types.ts). The client's type is its public API only: what its
// parts need is handed to them as explicit deps (src/client/clientDeps.ts,
// docs/design/explicit-deps.md), never read off the client.
import type { Underway } from "../../src/index.ts";

/** The internals the client used to expose to its own modules are not part of its type. */
export const noInternals = (underway: Underway): void => {
  // @ts-expect-error the named queries are not a member of the client
  void underway.sql;
  // @ts-expect-error nor is the LISTEN connection
  void underway.listener;
  // @ts-expect-error nor the lifecycle report
  void underway.lifecycle;
  // @ts-expect-error nor the throughput counters
  void underway.throughput;
  // @ts-expect-error nor the outcome feed
  void underway.outcomeFeed;
  // @ts-expect-error nor the registration of queues
  void underway.register;
  // @ts-expect-error nor the tracking of what close() stops (private)
  void underway.track;
  // @ts-expect-error nor the closed check (private)
  void underway.assertOpen;
  // @ts-expect-error nor the closed stream
  void underway.closed$;

  // The public surface is unchanged.
  void underway.pool;
  void underway.log;
  void underway.ops;
  void underway.events$;
};
