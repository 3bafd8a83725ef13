// Human output: plain aligned columns, no colours, so it pastes into issues
// and greps well. Scripts use --json instead.

/** Aligns rows under headers; columns whose cells all look numeric align right. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const numeric = headers.map(
    (_, column) => rows.length > 0 && rows.every((row) => /^~?-?[\d.,]+$|^-$/.test(row[column] ?? "")),
  );
  const line = (cells: ReadonlyArray<string>): string =>
    cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return numeric[column] === true ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
};

// C0 and C1 controls and DEL: a newline breaks a table's rows, an escape
// sequence (ESC, CSI) moves the cursor, clears the screen or retitles the
// terminal.
// eslint-disable-next-line no-control-regex
const controls = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * A name that users choose (a group, a key) as one printable line: as is,
 * or JSON-quoted (escaped) when it holds a control character, so a
 * tenant's name cannot break the table or write to the operator's terminal.
 */
export const printable = (text: string): string => (controls.test(text) ? JSON.stringify(text) : text);

/** `key: value` lines with the keys aligned, for one record. */
export const fields = (entries: ReadonlyArray<readonly [string, string]>): string => {
  const width = Math.max(0, ...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${value}`).join("\n") + "\n";
};

/** A timestamp in UTC to the second: `2026-11-29 07:13:08Z`; `-` for none. */
export const formatDate = (date: Date | null | undefined): string =>
  date == null ? "-" : `${date.toISOString().slice(0, 19).replace("T", " ")}Z`;

/** An age or duration in its two largest units: `45s`, `3m 12s`, `2h 5m`, `4d 3h`; `-` for none. */
export const formatAge = (seconds: number | null | undefined): string => {
  if (seconds == null) return "-";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
};

/** Cuts a one-line rendering of `text` to `max` characters. */
export const truncate = (text: string | null | undefined, max = 60): string => {
  if (text == null || text === "") return "-";
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};
