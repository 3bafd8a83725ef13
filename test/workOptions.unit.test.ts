// Worker options checked and filled in: pure functions, so these run in the
// unit lane, without a database (moved from test/workOptions.test.ts, which
// keeps the lease renewal that needs a worker on a real database).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../src/index.ts";
import { minHeartbeatMs, resolveTaskOptions } from "../src/options.ts";
import { checkWorkOptions, type WorkOptions } from "../src/worker/worker.ts";

/** The ConfigError `check` throws, asserting it names `option`. */
const rejects = (options: unknown, option: string): ConfigError => {
  let thrown: unknown;
  try {
    checkWorkOptions(options as WorkOptions);
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof ConfigError, `${JSON.stringify(options)} gave ${String(thrown)}`);
  assert.match(thrown.message, new RegExp(`\\b${option}\\b`));
  return thrown;
};

describe("work options", () => {
  it("fills in the defaults", () => {
    assert.deepEqual(checkWorkOptions({}), {
      concurrency: 10,
      prefetch: 100,
      prefetchHoldMs: 5_000,
      pollIntervalMs: 1_000,
      heartbeatTickMs: 500,
      reapIntervalMs: 5_000,
      shutdownGraceMs: 30_000,
      scheduler: undefined,
    });
    assert.equal(checkWorkOptions({ concurrency: 3 }).prefetch, 100);
    assert.equal(checkWorkOptions({ concurrency: 500 }).prefetch, 500);
    assert.equal(checkWorkOptions({ prefetch: 0 }).prefetch, 0);
    assert.equal(checkWorkOptions({ reapIntervalMs: 0 }).reapIntervalMs, 0);
    assert.equal(checkWorkOptions({ shutdownGraceMs: 0 }).shutdownGraceMs, 0);
  });

  it("rejects NaN, negative, zero, fractional, infinite and non-number values, synchronously", () => {
    for (const bad of [Number.NaN, -1, 0, 1.5, Number.POSITIVE_INFINITY, "10", null]) {
      rejects({ concurrency: bad }, "concurrency");
    }
    for (const bad of [Number.NaN, -1, 2.5, Number.POSITIVE_INFINITY]) rejects({ prefetch: bad }, "prefetch");
    // 0 made the poll a busy loop; NaN made delayed tasks never run.
    for (const bad of [Number.NaN, -1, 0, 9, Number.POSITIVE_INFINITY, 2 ** 31]) {
      rejects({ pollIntervalMs: bad }, "pollIntervalMs");
    }
    // -1 and NaN failed tasks that had succeeded.
    for (const bad of [Number.NaN, -1, 0, Number.POSITIVE_INFINITY]) {
      rejects({ heartbeatTickMs: bad }, "heartbeatTickMs");
    }
    for (const bad of [Number.NaN, -1, 5, Number.POSITIVE_INFINITY])
      rejects({ reapIntervalMs: bad }, "reapIntervalMs");
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY])
      rejects({ shutdownGraceMs: bad }, "shutdownGraceMs");
    rejects({ scheduler: {} }, "scheduler");
  });

  it("echoes a bounded prefix of a bad value", () => {
    const error = rejects({ concurrency: "x".repeat(10_000) }, "concurrency");
    assert.ok(error.message.length < 300, `message of ${error.message.length} characters`);
    // A value whose toString throws still gives a ConfigError.
    rejects({ pollIntervalMs: Object.create(null) as unknown }, "pollIntervalMs");
  });

  it("refuses a lease shorter than the minimum", () => {
    assert.throws(() => resolveTaskOptions({ heartbeatMs: minHeartbeatMs - 1 }), ConfigError);
    assert.throws(() => resolveTaskOptions({ heartbeatMs: 500 }), /heartbeatMs/);
    assert.equal(resolveTaskOptions({ heartbeatMs: minHeartbeatMs }).heartbeatMs, minHeartbeatMs);
  });
});
