// Errors a user can handle: every public API throws or rejects with an
// UnderwayError subclass that says what was wrong. Those of a client on a
// database; the others are in errors.unit.test.ts (the unit lane).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as t from "io-ts";
import { ConfigError, ValidationError, defineJob } from "../src/index.ts";
import { useDatabase } from "./support/harness.ts";

const { connect } = useDatabase("errors");
const N = t.type({ n: t.number });

describe("errors", () => {
  it("bad worker options throw ConfigError from start() and work() themselves, not inside a subscription", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "bad_options", input: N }));
    const handler = async () => null;
    for (const options of [{ concurrency: 0 }, { pollIntervalMs: Number.NaN }, { heartbeatTickMs: -1 }]) {
      assert.throws(() => job.start(handler, options), ConfigError, JSON.stringify(options));
      assert.throws(() => job.work(handler, options), ConfigError, JSON.stringify(options));
    }
  });

  it("malformed ids are ValidationErrors, thrown synchronously", async () => {
    const underway = await connect();
    const job = underway.job(defineJob({ queue: "ids", input: N }));
    for (const id of ["", "abc", "1; drop table", "-1", "0", "99999999999999999999"]) {
      assert.throws(() => job.result(id), ValidationError, id);
      assert.throws(() => job.outcome(id), ValidationError, id);
      assert.throws(() => job.cancel(id), ValidationError, id);
      assert.throws(() => job.attempts(id), ValidationError, id);
    }
  });
});
