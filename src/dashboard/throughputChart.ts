import { html, type Html } from "./html.ts";
import type { ThroughputBucket } from "./opsContract.ts";

const width = 900;
const height = 200;
const pad = { left: 40, right: 10, top: 10, bottom: 24 };
const series = [
  { key: "enqueued", color: "#2f6fde", label: "enqueued", className: "enq", dash: "5 3" },
  { key: "succeeded", color: "#1e8e3e", label: "succeeded", className: "ok", dash: "" },
  { key: "failed", color: "#c5221f", label: "failed", className: "bad", dash: "" },
] as const;

/**
 * @internal Tasks per minute over the window, summed over queues, as an
 * inline SVG (no charting library, no script): one line per series.
 */
export const throughputChart = (buckets: ReadonlyArray<ThroughputBucket>, since: Date, now: Date): Html => {
  const minutes = Math.max(1, Math.round((now.getTime() - since.getTime()) / 60_000));
  const start = Math.floor(since.getTime() / 60_000);
  const totals = series.map(() => new Array<number>(minutes + 1).fill(0));
  for (const bucket of buckets) {
    const slot = Math.floor(bucket.at.getTime() / 60_000) - start;
    if (slot < 0 || slot > minutes) continue;
    series.forEach((s, i) => {
      const row = totals[i];
      if (row !== undefined) row[slot] = (row[slot] ?? 0) + bucket[s.key];
    });
  }
  const max = Math.max(1, ...totals.flatMap((row) => row.slice(0, minutes)));
  const x = (slot: number) => pad.left + (slot / minutes) * (width - pad.left - pad.right);
  const y = (value: number) => height - pad.bottom - (value / max) * (height - pad.top - pad.bottom);
  // The current minute is still filling (and its counts arrive with each
  // client's next flush): drawn, it would dip towards 0 at the right edge.
  // The lines end at the last whole minute; the legend's totals include it.
  const lines = totals.map((row, i) => {
    const points = row
      .slice(0, minutes)
      .map((value, slot) => `${x(slot).toFixed(1)},${y(value).toFixed(1)}`)
      .join(" ");
    return html`<polyline
      fill="none"
      stroke="${series[i]?.color ?? "#888"}"
      stroke-width="1.8"
      points="${points}"
    />`;
  });
  const sum = (i: number) => (totals[i] ?? []).reduce((a, b) => a + b, 0);
  return html`<figure class="panel" id="throughput" data-live-region>
    <div class="chart-scroll">
      <svg
        class="chart"
        viewBox="0 0 ${width} ${height}"
        role="img"
        aria-label="Tasks per minute, last ${minutes} minutes"
      >
        <line x1="${pad.left}" y1="${y(0)}" x2="${width - pad.right}" y2="${y(0)}" stroke="#8888" />
        <line x1="${pad.left}" y1="${y(max)}" x2="${width - pad.right}" y2="${y(max)}" stroke="#8883" />
        <text x="${pad.left - 6}" y="${y(max) + 4}" text-anchor="end">${max}</text>
        <text x="${pad.left - 6}" y="${y(0) + 4}" text-anchor="end">0</text>
        <text x="${pad.left}" y="${height - 6}">−${minutes} min</text>
        <text x="${width - pad.right}" y="${height - 6}" text-anchor="end">now</text>
        ${lines}
      </svg>
    </div>
    <figcaption class="legend">
      ${series.map((s, i) => html`<span class="${s.className}">■ ${s.label} (${sum(i)})</span>`)}
      <span class="muted">tasks per minute, all queues</span>
    </figcaption>
  </figure>`;
};
