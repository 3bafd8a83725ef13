import { html, type Html } from "./html.ts";
import { href, type PageContext } from "./pageContext.ts";

const nav: ReadonlyArray<readonly [string, string]> = [
  ["/", "Overview"],
  ["/tasks", "Tasks"],
  ["/dlq", "Dead letters"],
  ["/schedules", "Schedules"],
  ["/workers", "Workers"],
];

/** @internal A notice above the page: a slow query, a bad filter, an action's result. */
export const banner = (kind: "error" | "info", text: string): Html =>
  html`<div class="banner ${kind}" role="${kind === "error" ? "alert" : "status"}">${text}</div>`;

/**
 * @internal The page shell. Scripts and styles come from the dashboard's own
 * /assets (no build step, no CDN), which lets the CSP forbid inline script.
 * The base path is in `data-base`, read by the script at run time.
 */
export const layout = (
  ctx: PageContext,
  title: string,
  body: Html,
  banners: ReadonlyArray<Html> = [],
): Html => {
  const current = ctx.url.pathname.slice(ctx.base.length) || "/";
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${title} · underway</title>
        <link rel="stylesheet" href="${href(ctx, "/assets/dashboard.css")}" />
        <link rel="icon" type="image/svg+xml" href="${href(ctx, "/assets/favicon.svg")}" />
        <script src="${href(ctx, "/assets/dashboard.js")}" defer></script>
      </head>
      <body data-base="${ctx.base}" data-live="${!ctx.refreshable ? "off" : ctx.live ? "sse" : "poll"}">
        <header>
          <a class="brand" href="${href(ctx, "/")}">underway</a>
          <nav>
            ${nav.map(
              ([path, label]) =>
                html`<a
                  href="${href(ctx, path)}"
                  class="${(path === "/" ? current === "/" : current.startsWith(path)) ? "current" : ""}"
                  >${label}</a
                >`,
            )}
          </nav>
          <span class="role">${ctx.canAct ? "admin" : "read-only"}</span>
          <button type="button" id="live-toggle" class="live" aria-pressed="false">
            <span id="live-state">live</span>
          </button>
        </header>
        <div id="banners" data-live-region>${banners}</div>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
        <footer>Rendered ${ctx.now.toISOString()}</footer>
      </body>
    </html>`;
};
