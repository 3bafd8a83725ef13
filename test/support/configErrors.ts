// Assertions on the ConfigError an option check throws: shared by the
// tests of misspelt and mistyped options.
import assert from "node:assert/strict";
import { ConfigError } from "../../src/index.ts";

/** A ConfigError, thrown synchronously, whose message matches every pattern. */
export const throwsConfig = (call: () => unknown, ...patterns: RegExp[]): void => {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
};

/** A ConfigError, thrown or rejected, whose message matches every pattern. */
export const rejectsConfig = async (call: () => Promise<unknown>, ...patterns: RegExp[]): Promise<void> => {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
};

/** The message part naming a misspelt key and the key it meant. */
export const typo = (key: string, meant: string): RegExp =>
  new RegExp(
    `unknown option "${key.replace(/\./g, "\\.")}" \\(did you mean "${meant.replace(/\./g, "\\.")}"\\?\\)`,
  );
