/** One figure a workload reports, and how the report shows and compares it. */
export interface Metric {
  /** Key in `results/latest.json`. */
  readonly key: string;
  /** Row label in the markdown table. */
  readonly label: string;
  readonly unit: "tasks/s" | "enqueues/s" | "ms" | "MB" | "%";
  readonly better: "higher" | "lower";
  /**
   * Whether subject ÷ peer means anything. Not for differences that sit
   * near zero or change sign (growth in MB, change in %).
   */
  readonly ratio: boolean;
}
