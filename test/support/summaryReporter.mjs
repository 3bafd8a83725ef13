// A node:test reporter that writes one line at the end of the run:
// `N passed, N failed, N skipped`. Node's own summaries count a skipped
// suite (the browser tests without Chromium, PgBouncer's without the binary)
// as nothing at all, so a run that quietly skipped a whole file looked the
// same as one that ran it; here each skipped suite counts once as skipped.
// Plain JavaScript: node loads reporters before `--import tsx` applies.

/** @param {{ details?: { type?: string } }} data */
const isSuite = (data) => data.details?.type === "suite";

/**
 * Counts one finished test or suite; suites count only when skipped or broken in themselves.
 * @param {{ passed: number, failed: number, skipped: number }} counts
 * @param {{ type: string, data: any }} event
 */
const count = (counts, event) => {
  const { data } = event;
  if (event.type === "test:pass") {
    if (data.skip !== undefined || data.todo !== undefined) counts.skipped += 1;
    else if (!isSuite(data)) counts.passed += 1;
  } else if (event.type === "test:fail") {
    // A suite that failed because its tests failed is already counted through them;
    // one whose hook threw, or a file that did not load, is a failure of its own.
    if (!isSuite(data) || data.details?.error?.failureType !== "subtestsFailed") counts.failed += 1;
  }
};

/**
 * The reporter: consumes every event, yields the one summary line at the end.
 * @param {AsyncIterable<{ type: string, data: any }>} source
 */
export default async function* summaryReporter(source) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for await (const event of source) count(counts, event);
  yield `summary: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`;
}
