// Errors a user can handle, where no database is involved: a server that
// is not there, a missing connection string, definitions refused where they
// are written. The unit lane runs these (moved from test/errors.test.ts,
// which keeps the errors of a connected client).
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import * as t from "io-ts";
import {
  ConfigError,
  DatabaseError,
  UnderwayError,
  Underway,
  defineJob,
  silentLogger,
} from "../src/index.ts";

const N = t.type({ n: t.number });

const closedPort = (): Promise<number> =>
  new Promise((done) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => done(typeof address === "object" && address !== null ? address.port : 1));
    });
  });

describe("errors without a database", () => {
  it("a connect failure is a DatabaseError with the pg error as cause and no password in its message", async () => {
    const port = await closedPort();
    const secret = "s3cr3t-Pa55";
    await assert.rejects(
      () =>
        Underway.connect({
          connectionString: `postgres://app:${secret}@127.0.0.1:${port}/nowhere`,
          logger: silentLogger,
        }),
      (error: unknown) => {
        assert.ok(error instanceof DatabaseError, String(error));
        assert.ok(error instanceof UnderwayError);
        assert.ok(error.cause instanceof Error, "cause is the pg error");
        assert.ok(!error.message.includes(secret), error.message);
        assert.ok(!String(error.stack).includes(secret));
        return true;
      },
    );
  });

  it("an unset connection string is a ConfigError that says so", async () => {
    await assert.rejects(
      () => Underway.connect({ connectionString: undefined }),
      (error: unknown) => error instanceof ConfigError && /DATABASE_URL/.test(error.message),
    );
  });

  it("bad definitions and bad task options are ConfigErrors where they are written", () => {
    assert.throws(() => defineJob({ queue: "no spaces", input: N }), ConfigError);
    assert.throws(() => defineJob({ queue: "self", dlq: "self", input: N }), ConfigError);
    assert.throws(
      () => defineJob({ queue: "opts", input: N, options: { retry: { maxAttempts: 0 } } }),
      ConfigError,
    );
    assert.throws(
      () => defineJob({ queue: "opts", input: N, options: { timeoutMs: Number.NaN } }),
      ConfigError,
    );
  });
});
