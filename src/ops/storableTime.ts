// PostgreSQL's timestamptz holds 4713 BC to 294276 AD; a JS Date reaches
// further (to ±275760, and below 4713 BC), and such a bound came back from
// the database as "timestamp out of range". Filters take years 1 to 9999:
// every real task's creation time, and nothing the column cannot compare.
const earliest = Date.parse("0001-01-01T00:00:00.000Z");
const latest = Date.parse("9999-12-31T23:59:59.999Z");

/** How an error message states the range {@link storableTime} accepts. */
export const storableRange = "from 0001-01-01 to 9999-12-31 (UTC)";

/** True for a valid Date within the years 1 to 9999, which PostgreSQL stores and compares. */
export const storableTime = (value: unknown): value is Date =>
  value instanceof Date && value.getTime() >= earliest && value.getTime() <= latest;
