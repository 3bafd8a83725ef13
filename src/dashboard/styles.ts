/** @internal The dashboard's stylesheet, served as /assets/dashboard.css. */
export const styles = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --bg: #fff; --panel: #f6f7f9; --line: #e3e6ea;
  --accent: #2f6fde; --ok: #1e8e3e; --bad: #c5221f; --warn: #b06000; --run: #7b4ddb; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --muted: #98a2b3; --bg: #14171c; --panel: #1c2027; --line: #2c323b; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem 1.2rem; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header .brand { font-weight: 700; color: var(--fg); text-decoration: none; letter-spacing: .02em; }
header nav { display: flex; flex-wrap: wrap; gap: .2rem .9rem; flex: 1; }
header nav a { color: var(--muted); text-decoration: none; padding: .2rem 0; }
header nav a.current { color: var(--fg); border-bottom: 2px solid var(--accent); }
.role { font-size: 12px; color: var(--muted); border: 1px solid var(--line); border-radius: 99px; padding: 0 .5rem; }
button.live { border: 1px solid var(--line); background: var(--bg); color: var(--fg); border-radius: 99px; padding: .1rem .7rem; cursor: pointer; }
body[data-live-state="live"] button.live::before { content: "● "; color: var(--ok); }
body[data-live-state="paused"] button.live::before { content: "❚❚ "; color: var(--warn); }
main { padding: 1rem 1.2rem 2rem; max-width: 1400px; }
h1 { font-size: 20px; margin: .2rem 0 1rem; }
h2 { font-size: 16px; margin: 1.5rem 0 .5rem; }
footer { color: var(--muted); font-size: 12px; padding: 0 1.2rem 1rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num a.zero { color: var(--muted); text-decoration: none; }
.approx { color: var(--muted); }
.state { display: inline-block; padding: 0 .45rem; border-radius: 4px; font-size: 12px; font-weight: 600; }
.state.pending { background: #e8f0fe; color: #1a56c4; } .state.in_progress { background: #efe7fd; color: var(--run); }
.state.succeeded { background: #e6f4ea; color: var(--ok); } .state.failed { background: #fce8e6; color: var(--bad); }
.state.cancelled { background: #f1f3f4; color: #5f6368; } .paused { color: var(--warn); font-weight: 600; }
.banner { padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
.banner.error { background: #fce8e6; color: #8c1d18; } .banner.info { background: #e6f4ea; color: #0d652d; }
form.inline { display: inline; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: .15rem; }
input, select { font: inherit; padding: .25rem .4rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
button { font: inherit; padding: .25rem .7rem; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); color: var(--fg); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { background: var(--bad); border-color: var(--bad); color: #fff; font-weight: 600; }
.actions { display: flex; gap: .4rem; flex-wrap: wrap; margin: .6rem 0; align-items: center; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: .6rem; overflow: auto; max-height: 28rem; white-space: pre-wrap; word-break: break-word; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(320px, 100%), 1fr)); gap: 1rem; }
.grid > * { min-width: 0; }
.scroll, .chart-scroll { overflow-x: auto; max-width: 100%; }
ul.running { margin: 0; padding-left: 1rem; }
.state.cancel-requested { background: #fef7e0; color: var(--warn); }
.timeline .duration { font-variant-numeric: tabular-nums; }
figure.panel { margin: 0; }
.panel h2:first-child { margin-top: 0; }
.panel { border: 1px solid var(--line); border-radius: 6px; padding: .8rem; background: var(--bg); }
.muted { color: var(--muted); }
.timeline { list-style: none; padding: 0; margin: 0; }
.timeline li { border-left: 3px solid var(--line); padding: .3rem .8rem; margin-bottom: .5rem; }
.timeline li.failed, .timeline li.timed_out, .timeline li.lost { border-color: var(--bad); }
.timeline li.succeeded { border-color: var(--ok); } .timeline li.event { border-color: var(--accent); }
.job-graph { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem; list-style: none; padding: 0; margin: 0; }
.job-graph .node { display: flex; flex-direction: column; gap: .2rem; border: 1px solid var(--line); border-left-width: 4px; border-radius: 6px; padding: .35rem .6rem; background: var(--bg); }
.job-graph .node[data-state="succeeded"], .job-graph .node[data-settled="continued"] { border-left-color: var(--ok); }
.job-graph .node[data-state="failed"], .job-graph .node[data-settled="failed"] { border-left-color: var(--bad); }
.job-graph .node[data-state="in_progress"], .job-graph .node[data-settled="waiting"] { border-left-color: var(--run); }
.job-graph .node[data-state="pending"] { border-left-color: var(--accent); }
.job-graph .edge { color: var(--muted); }
.children-bar .left { fill: var(--line); } .children-bar .ok { fill: var(--ok); } .children-bar .bad { fill: var(--bad); } .children-bar .off { fill: var(--muted); }
svg.chart { width: 100%; height: auto; }
svg.chart text { fill: var(--muted); font-size: 11px; }
.legend span { margin-right: 1rem; font-size: 12px; }
.legend .enq { color: var(--accent); } .legend .ok { color: var(--ok); } .legend .bad { color: var(--bad); }
.pager { margin-top: .8rem; display: flex; gap: 1rem; }
/* Last, so that it overrides the rules above on narrow screens. */
@media (max-width: 640px) {
  main { padding: .8rem .6rem 1.5rem; }
  header { padding: .5rem .6rem; }
  header nav { order: 3; flex-basis: 100%; }
  header .role { margin-left: auto; }
  svg.chart { min-width: 560px; }
  svg.chart text { font-size: 16px; }
  th, td { padding: .3rem .4rem; }
  dl.facts { grid-template-columns: 1fr; } dl.facts dd { margin-bottom: .3rem; }
}
`;

/** @internal The tab icon, served as /assets/favicon.svg (browsers log a 404 without one). */
export const favicon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#2f6fde"/><path d="M8 9v9a8 8 0 0 0 16 0V9h-4v9a4 4 0 0 1-8 0V9z" fill="#fff"/></svg>`;
