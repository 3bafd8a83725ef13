// Batch handlers without a database: the gathering on virtual time
// (mergeBatches), how a handler's return value becomes each task's result
// (resultsOf), and a task that leaves its batch before it goes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as E from "fp-ts/lib/Either.js";
import { Subject, asyncScheduler, timer } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import * as t from "io-ts";
import {
  AbortError,
  BatchResult,
  BatchResultError,
  FatalError,
  defineJob,
  silentLogger,
  type TaskContext,
} from "../src/index.ts";
import { performBatch } from "../src/testing/index.ts";
import { batching, resultsOf } from "../src/worker/batching.ts";
import { mergeBatches } from "../src/worker/mergeBatches.ts";

interface Gathering {
  readonly size: number;
  readonly waitMs: number;
  readonly concurrency: number;
  /** How long each batch runs. */
  readonly runMs: number;
  /** When each item arrives. */
  readonly arrivals: ReadonlyArray<readonly [number, string]>;
  /** Items that left before their batch. */
  readonly dead?: ReadonlyArray<string>;
  /** When the source completes; never if unset. */
  readonly completeAt?: number;
}

/** Each batch as `time:items` when it started, and whether the stream completed. */
const gathered = (case_: Gathering): { readonly batches: string[]; readonly completed: boolean } => {
  const scheduler = new TestScheduler((actual, wanted) => assert.deepEqual(actual, wanted));
  const batches: string[] = [];
  let completed = false;
  scheduler.run(() => {
    const items = new Subject<string>();
    for (const [at, item] of case_.arrivals) scheduler.schedule(() => items.next(item), at);
    if (case_.completeAt !== undefined) scheduler.schedule(() => items.complete(), case_.completeAt);
    items
      .pipe(
        mergeBatches(
          (batch) => {
            batches.push(`${scheduler.now()}:${batch.join("")}`);
            return timer(case_.runMs, scheduler);
          },
          {
            size: case_.size,
            waitMs: case_.waitMs,
            concurrency: case_.concurrency,
            live: (item) => !(case_.dead ?? []).includes(item),
          },
          scheduler,
        ),
      )
      .subscribe({ complete: () => (completed = true) });
  });
  return { batches, completed };
};

describe("mergeBatches on virtual time", () => {
  it("a batch short of its size leaves waitMs after its first item", () => {
    const { batches } = gathered({
      size: 5,
      waitMs: 10,
      concurrency: 1,
      runMs: 0,
      arrivals: [
        [0, "a"],
        [3, "b"],
        [7, "c"],
        [12, "d"],
      ],
    });
    assert.deepEqual(batches, ["10:abc", "22:d"]);
  });

  it("waitMs 0 takes what arrives in the same turn, no more waiting", () => {
    const { batches } = gathered({
      size: 5,
      waitMs: 0,
      concurrency: 1,
      runMs: 0,
      arrivals: [
        [0, "a"],
        [0, "b"],
        [0, "c"],
        [1, "d"],
      ],
    });
    assert.deepEqual(batches, ["0:abc", "1:d"]);
  });

  it("a full batch leaves at once, the rest waits for its own time", () => {
    const { batches } = gathered({
      size: 3,
      waitMs: 10,
      concurrency: 2,
      runMs: 50,
      arrivals: [
        [0, "a"],
        [1, "b"],
        [2, "c"],
        [4, "d"],
      ],
    });
    assert.deepEqual(batches, ["2:abc", "14:d"]);
  });

  it("at most `concurrency` batches run; meanwhile items gather into full batches for the next free slot", () => {
    const { batches } = gathered({
      size: 2,
      waitMs: 5,
      concurrency: 1,
      runMs: 20,
      arrivals: [
        [0, "a"],
        [0, "b"],
        [2, "c"],
        [8, "d"],
        [9, "e"],
        [30, "f"],
      ],
    });
    // c is due at 7 but the slot is busy until 20: then c and d go together;
    // e is long due at 40, and f came meanwhile.
    assert.deepEqual(batches, ["0:ab", "20:cd", "40:ef"]);
  });

  it("items that left are dropped: a dead first item does not date the batch", () => {
    const { batches } = gathered({
      size: 5,
      waitMs: 10,
      concurrency: 1,
      runMs: 0,
      arrivals: [
        [0, "a"],
        [5, "b"],
        [6, "c"],
      ],
      dead: ["a", "c"],
    });
    assert.deepEqual(batches, ["15:b"]);
  });

  it("when the source completes, what waits goes at once, and the stream completes after the last batch", () => {
    const { batches, completed } = gathered({
      size: 5,
      waitMs: 100,
      concurrency: 1,
      runMs: 3,
      arrivals: [[0, "a"]],
      completeAt: 2,
    });
    assert.deepEqual(batches, ["2:a"]);
    assert.equal(completed, true);
  });
});

const taskOf = (taskId: string) => ({ input: Number(taskId), context: { taskId } as TaskContext });

describe("resultsOf: a result per task, never a silent success", () => {
  const tasks = ["1", "2", "3"].map(taskOf);

  it("an array in task order gives each task its own result", () => {
    const results = resultsOf(tasks, [BatchResult.ok(10), BatchResult.fail("no"), BatchResult.ok(30)]);
    assert.deepEqual(results, E.right([E.right(10), E.left("no"), E.right(30)]));
  });

  it("an array of the wrong length fails every task, saying how many came for how many", () => {
    for (const returned of [[BatchResult.ok(1)], [1, 2, 3, 4].map(BatchResult.ok), []]) {
      const results = resultsOf(tasks, returned);
      assert.ok(E.isLeft(results));
      assert.ok(results.left instanceof BatchResultError);
      assert.match(results.left.message, new RegExp(`returned ${returned.length} results for 3 tasks`));
    }
  });

  it("a Map by task id: a missing task fails alone, ids it does not hold are ignored", () => {
    const byId = new Map([
      ["1", BatchResult.ok(10)],
      ["3", BatchResult.ok(30)],
      ["99", BatchResult.ok(990)],
    ]);
    const results = resultsOf(tasks, byId);
    assert.ok(E.isRight(results));
    const [one, two, three] = results.right;
    assert.deepEqual(one, E.right(10));
    assert.deepEqual(three, E.right(30));
    assert.ok(two !== undefined && E.isLeft(two) && two.left instanceof BatchResultError);
    assert.match((two.left as Error).message, /no result for task 2/);
  });

  it("a value that is no BatchResult fails its task; anything but an array or Map fails them all", () => {
    const results = resultsOf(tasks, [BatchResult.ok(1), 2, { ok: "yes" }]);
    assert.ok(E.isRight(results));
    assert.deepEqual(results.right[0], E.right(1));
    for (const bad of results.right.slice(1)) {
      assert.ok(E.isLeft(bad));
      assert.match((bad.left as Error).message, /not a BatchResult: use BatchResult\.ok/);
    }
    for (const returned of [undefined, null, 3, "ok", { 0: BatchResult.ok(1) }, new Set()]) {
      const all = resultsOf(tasks, returned);
      assert.ok(E.isLeft(all), String(returned));
      assert.match(all.left.message, /must return an array of BatchResult .* or a Map/);
    }
  });

  it("a hostile value whose reads throw fails the batch, never the worker", () => {
    const hostile = new Proxy([], {
      get: () => {
        throw new Error("gotcha");
      },
    });
    const results = resultsOf(tasks, hostile);
    assert.ok(E.isLeft(results));
    assert.match(results.left.message, /could not be read: gotcha/);
  });

  it("BatchResult.snooze checks its delay as snooze does", () => {
    const snoozed = BatchResult.snooze(1_000);
    assert.ok(!snoozed.ok && (snoozed.error as Error).name === "Snooze");
    const bad = BatchResult.snooze(-1);
    assert.ok(!bad.ok && bad.error instanceof RangeError);
  });
});

describe("batching: a task leaves before its batch goes", () => {
  it("a task whose signal fires while it waits is rejected with the signal's reason and never handed to the handler", async () => {
    const seen: string[][] = [];
    const gathering = batching<number, number>(
      (tasks) => {
        seen.push(tasks.map((task) => task.context.taskId));
        return Promise.resolve(tasks.map(({ input }) => BatchResult.ok(input * 2)));
      },
      { batchSize: 10, batchWaitMs: 50, concurrency: 1 },
      asyncScheduler,
      silentLogger,
    );
    const running = gathering.run$.subscribe();
    try {
      const controllers = [new AbortController(), new AbortController(), new AbortController()];
      const results = controllers.map((controller, index) =>
        gathering.handler(index + 1, {
          taskId: String(index + 1),
          signal: controller.signal,
        } as TaskContext),
      );
      controllers[1]?.abort(new AbortError("cancelled"));
      const settled = await Promise.allSettled(results);
      assert.deepEqual(seen, [["1", "3"]]);
      assert.deepEqual(settled[0], { status: "fulfilled", value: 2 });
      assert.equal(settled[1]?.status, "rejected");
      assert.ok(settled[1]?.status === "rejected" && settled[1].reason instanceof AbortError);
      assert.deepEqual(settled[2], { status: "fulfilled", value: 6 });
    } finally {
      running.unsubscribe();
    }
  });
});

describe("performBatch: a batch handler offline", () => {
  const job = defineJob({
    queue: "perform_batch",
    input: t.type({ n: t.number }),
    output: t.number,
    options: { retry: { maxAttempts: 3 } },
  });

  it("one call with every input, each task its own id and result, in order", async () => {
    const calls: string[][] = [];
    const results = await performBatch(
      job,
      async (tasks) => {
        calls.push(tasks.map(({ context }) => context.taskId));
        return tasks.map(({ input }) =>
          input.n === 2
            ? BatchResult.fail(new Error("two"))
            : input.n === 3
              ? BatchResult.fail(new FatalError("three"))
              : BatchResult.ok(input.n * 10),
        );
      },
      [{ n: 1 }, { n: 2 }, { n: 3 }],
      { taskId: "41" },
    );
    assert.deepEqual(calls, [["41", "42", "43"]]);
    assert.deepEqual(results[0], { _tag: "succeeded", output: 10, progress: [], logs: [], logsCut: 0 });
    assert.ok(results[1]?._tag === "failed" && results[1].kind === "Retryable" && results[1].willRetry);
    assert.ok(results[2]?._tag === "failed" && results[2].kind === "Fatal" && !results[2].willRetry);
  });

  it("a wrong-length result fails every task; an output its schema refuses fails its task; a refused input is not handed in", async () => {
    const short = await performBatch(job, async (tasks) => tasks.slice(1).map(() => BatchResult.ok(1)), [
      { n: 1 },
      { n: 2 },
    ]);
    for (const result of short) {
      assert.ok(result._tag === "failed");
      assert.equal(result.name, "BatchResultError");
      assert.ok(result.error instanceof BatchResultError);
    }
    const seen: number[] = [];
    const mixed = await performBatch(
      job,
      async (tasks) => {
        seen.push(...tasks.map(({ input }) => input.n));
        return tasks.map(({ input }) =>
          BatchResult.ok(input.n === 1 ? ("one" as unknown as number) : input.n),
        );
      },
      [{ n: 1 }, { n: "x" } as unknown as { n: number }, { n: 3 }],
    );
    assert.deepEqual(seen, [1, 3]);
    assert.deepEqual(
      mixed.map((result) => (result._tag === "failed" ? `${result.kind} ${result.name}` : result._tag)),
      ["Fatal ValidationError", "Fatal ValidationError", "succeeded"],
    );
  });

  it("refuses bad input lists and options, naming them", async () => {
    const ok = async (tasks: ReadonlyArray<unknown>) => tasks.map(() => BatchResult.ok(1));
    await assert.rejects(performBatch(job, ok, []), /inputs must be an array of 1 to 1000 inputs/);
    await assert.rejects(
      performBatch(job, ok, [{ n: 1 }], { tx: {} } as never),
      /performBatch options: unknown option "tx"/,
    );
    await assert.rejects(performBatch(job, ok, [{ n: 1 }], { atempt: 2 } as never), /did you mean "attempt"/);
  });
});
