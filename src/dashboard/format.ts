// Times and ages as an operator reads them: ISO instants (UTC, sortable) and
// short relative ages.

/** @internal An instant as `2026-01-31 12:34:56Z`; empty for null. */
export const instant = (date: Date | null | undefined): string =>
  date === null || date === undefined
    ? ""
    : date
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");

/** @internal Seconds as `3s`, `4m 05s`, `2h 03m`, `3d 04h`. */
export const age = (seconds: number | null | undefined): string => {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor((s % 86_400) / 3600))}h`;
};

/** @internal Age of an instant relative to `now`. */
export const ageOf = (date: Date | null | undefined, now: Date): string =>
  date === null || date === undefined ? "–" : age((now.getTime() - date.getTime()) / 1000);

/** @internal An instant in an IANA zone, as the schedule's own clock shows it. */
export const inZone = (date: Date, timeZone: string): string => {
  try {
    return new Intl.DateTimeFormat("en-CA", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hour12: false,
      timeZoneName: "short",
    }).format(date);
  } catch {
    return instant(date);
  }
};

/** @internal How long from `from` to `to` (or to `now` while running): `85 ms`, `2.4 s`, `4m 05s`. */
export const duration = (from: Date | null, to: Date | null, now: Date): string => {
  if (from === null) return "";
  const ms = Math.max(0, (to ?? now).getTime() - from.getTime());
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  return age(ms / 1_000);
};
