import { DatabaseError, UnderwayError } from "../errors.ts";
import { checkOptionShape } from "../optionShape.ts";
import { depsOf } from "../client/clientDeps.ts";
import type { Underway } from "../underway.ts";
import { bulkAction, queueAction, scheduleAction, taskAction, type ActionOutcome } from "./actions.ts";
import { clientScript } from "./clientScript.ts";
import {
  dashboardOptionShape,
  type DashboardAuditEvent,
  type DashboardOptions,
  type DashboardRequestInfo,
} from "./dashboardOptions.ts";
import { html, type Html } from "./html.ts";
import { banner, layout } from "./layout.ts";
import type { OpsApi } from "./opsContract.ts";
import { SlowQuery, type PageContext } from "./pageContext.ts";
import { dlqPage } from "./pages/dlqPage.ts";
import { batchPage } from "./pages/batchPage.ts";
import { jobPage } from "./pages/jobPage.ts";
import { overviewPage } from "./pages/overviewPage.ts";
import { queuePage } from "./pages/queuePage.ts";
import { schedulesPage } from "./pages/schedulesPage.ts";
import { taskPage } from "./pages/taskPage.ts";
import { tasksPage } from "./pages/tasksPage.ts";
import { workersPage } from "./pages/workersPage.ts";
import { readForm } from "./readForm.ts";
import { AllowedHosts, Csrf, localOnly, sameOrigin, type ServedAt } from "./security.ts";
import { favicon, styles } from "./styles.ts";
import { eventStream } from "./eventStream.ts";

/**
 * The dashboard as a Fetch handler: give it a `Request`, get a `Response`.
 * `info` carries what a `Request` does not: the client's address (for the
 * default `authorize`) and the mount path; the node:http adapter
 * ({@link dashboardListener}) fills it in.
 */
export type DashboardHandler = (request: Request, info?: DashboardRequestInfo) => Promise<Response>;

// No inline script or style at all: a payload that slipped past escaping
// still could not run.
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
} as const;

const htmlResponse = (status: number, page: Html): Response =>
  new Response(page.text, {
    status,
    headers: { ...securityHeaders, "content-type": "text/html; charset=utf-8" },
  });

const textResponse = (status: number, text: string): Response =>
  new Response(text, {
    status,
    headers: { ...securityHeaders, "content-type": "text/plain; charset=utf-8" },
  });

const asset = (body: string, type: string): Response =>
  new Response(body, {
    headers: { "content-type": type, "cache-control": "no-cache", "x-content-type-options": "nosniff" },
  });

/** "/admin/queues/" → "/admin/queues"; "/" → "". */
const normalizeBase = (path: string): string => {
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed !== "" && !trimmed.startsWith("/")) return `/${trimmed}`;
  return trimmed;
};

/** `decodeURIComponent`, or undefined for a malformed `%` escape (the client's mistake: a 400). */
const decoded = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
};

const opsOf = (underway: Underway): OpsApi => underway.ops;

/**
 * A web dashboard for underway: queues, tasks, dead letters, schedules and
 * workers, with live updates (server-sent events from the client's LISTEN
 * connection, polling as the fallback) and actions (retry, cancel, delete,
 * redrive, pause, resume, rate limit) that each need a CSRF token and emit an audit event.
 * Server-rendered HTML, no build step; mount it anywhere (see
 * {@link dashboardListener} and {@link serveDashboard}).
 *
 * Safe by default: without `authorize`, only requests from this machine's
 * loopback address that did not come through a proxy are let in; only a
 * `Host` of a loopback name (or listed in `allowedHosts`) is answered; a
 * write needs the token and an `Origin` naming that host; a body over 1 MB
 * gets a 413.
 *
 * @example
 * const handler = dashboard(underway, {
 *   basePath: "/admin/queues",
 *   authorize: (request) => (isAdmin(request) ? "admin" : "deny"),
 * });
 * const response = await handler(new Request("http://localhost/admin/queues/tasks"));
 */
export const dashboard = (underway: Underway, options: DashboardOptions = {}): DashboardHandler =>
  servedDashboard(underway, checkOptionShape("dashboard options", options, dashboardOptionShape), null);

/**
 * @internal The handler, given what serveDashboard bound (its port, and an
 * address that is neither loopback nor a wildcard) for the Host check.
 */
export const servedDashboard = (
  underway: Underway,
  options: DashboardOptions,
  served: ServedAt | null,
): DashboardHandler => {
  const live = depsOf(underway);
  // Checked by dashboard() and serveDashboard() against dashboardOptionShape.
  const queryTimeoutMs = options.queryTimeoutMs ?? 5_000;
  const hosts = new AllowedHosts(options.allowedHosts ?? [], served);
  const csrf = new Csrf();
  const authorize = options.authorize ?? localOnly;
  const timed = <A>(read: Promise<A>): Promise<A> => {
    let timer: NodeJS.Timeout | undefined;
    // A read that answers after the deadline is dropped, not unhandled.
    read.catch(() => undefined);
    return Promise.race([
      read,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SlowQuery(queryTimeoutMs)), queryTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  };

  const audit = (event: DashboardAuditEvent) => {
    underway.log.info("dashboard action", { ...event, at: event.at.toISOString() });
    try {
      options.onAudit?.(event);
    } catch (error) {
      underway.log.warn("dashboard onAudit threw", { error: String(error) });
    }
  };

  const failure = (ctx: PageContext, error: unknown): Response => {
    if (error instanceof SlowQuery)
      return htmlResponse(
        503,
        layout(ctx, "Slow database", html`<p class="muted">Nothing to show yet.</p>`, [
          banner(
            "error",
            `The database did not answer within ${error.ms} ms, so this page shows no data. It may be busy or locked; try again, or narrow the filter.`,
          ),
        ]),
      );
    // Bad ids and filter values are the user's to fix; database errors go
    // to the log, never to the page (no connection details in HTML).
    if (error instanceof UnderwayError && !(error instanceof DatabaseError))
      return htmlResponse(400, layout(ctx, "Not understood", html``, [banner("error", error.message)]));
    underway.log.error("dashboard request failed", {
      error: error instanceof Error ? error.message : String(error),
      path: ctx.url.pathname,
    });
    return htmlResponse(
      500,
      layout(ctx, "Error", html``, [
        banner("error", "The dashboard could not read the database; the server log has the details."),
      ]),
    );
  };

  const page = async (ctx: PageContext, path: string): Promise<Response | undefined> => {
    const notice = ctx.url.searchParams.get("notice");
    const notices =
      notice !== null && csrf.validNotice(notice, ctx.url.searchParams.get("sig"))
        ? [banner("info", notice.slice(0, 300))]
        : [];
    const render = (title: string, body: Html, banners: ReadonlyArray<Html> = []) =>
      htmlResponse(200, layout(ctx, title, body, [...notices, ...banners]));
    if (path === "/") return render("Overview", await overviewPage(ctx));
    if (path === "/tasks") {
      const { body, banners } = await tasksPage(ctx);
      return render("Tasks", body, banners);
    }
    const task = /^\/tasks\/([0-9]{1,19})$/.exec(path);
    if (task?.[1] !== undefined) {
      const body = await taskPage(ctx, task[1]);
      return body === undefined
        ? htmlResponse(
            404,
            layout(ctx, "No such task", html`<p>Task ${task[1]} does not exist (or was deleted).</p>`),
          )
        : render(`Task ${task[1]}`, body);
    }
    const batch = /^\/batches\/([0-9]{1,19})$/.exec(path);
    if (batch?.[1] !== undefined) {
      const body = await batchPage(ctx, batch[1]);
      return body === undefined
        ? htmlResponse(
            404,
            layout(
              ctx,
              "No such batch",
              html`<p>Batch ${batch[1]} does not exist (or was deleted by retention).</p>`,
            ),
          )
        : render(`Batch ${batch[1]}`, body);
    }
    // A page named by a path segment: a malformed % escape is the client's mistake, a 400.
    const named = async (segment: string, what: string, view: (name: string) => Promise<Response>) => {
      const name = decoded(segment);
      return name === undefined
        ? htmlResponse(
            400,
            layout(ctx, "Not understood", html``, [banner("error", `Malformed ${what} in the URL.`)]),
          )
        : view(name);
    };
    const job = /^\/jobs\/([^/]{1,200})$/.exec(path);
    if (job?.[1] !== undefined)
      return named(job[1], "job id", async (jobId) => render(`Job ${jobId}`, await jobPage(ctx, jobId)));
    if (path === "/dlq") {
      const { body, banners } = await dlqPage(ctx);
      return render("Dead letters", body, banners);
    }
    if (path === "/schedules") return render("Schedules", await schedulesPage(ctx));
    const queue = /^\/queues\/([^/]{1,400})$/.exec(path);
    if (queue?.[1] !== undefined)
      return named(queue[1], "queue name", async (name) =>
        render(`Queue ${name}`, await queuePage(ctx, name)),
      );
    if (path === "/workers") return render("Workers", await workersPage(ctx));
    return undefined;
  };

  const act = async (
    ctx: PageContext,
    path: string,
    form: URLSearchParams,
  ): Promise<ActionOutcome | undefined> => {
    if (path === "/tasks/bulk" || path === "/dlq/redrive") return bulkAction(ctx, form, path);
    const task = /^\/tasks\/([0-9]{1,19})\/([a-z]+)$/.exec(path);
    if (task?.[1] !== undefined && task[2] !== undefined) return taskAction(ctx, task[1], task[2]);
    const queue = /^\/(queues|schedules)\/([^/]{1,400})\/([a-z]+)$/.exec(path);
    if (queue?.[2] !== undefined && queue[3] !== undefined) {
      const name = decoded(queue[2]);
      if (name === undefined)
        return {
          _tag: "page",
          status: 400,
          title: "Not understood",
          body: html`<p class="banner error" role="alert">Malformed queue name in the URL.</p>`,
        };
      return queue[1] === "queues"
        ? queueAction(ctx, name, queue[3], form)
        : scheduleAction(ctx, name, queue[3]);
    }
    return undefined;
  };

  return async (request, info = {}) => {
    // First of all: a page of another site rebound to this address learns nothing.
    const host = request.headers.get("host") ?? new URL(request.url).host;
    if (!hosts.allows(host))
      return textResponse(
        403,
        `Forbidden: this dashboard does not answer to the host ${JSON.stringify(host.slice(0, 100))}. If that is its name, add it to the dashboard's allowedHosts option (underway dashboard --allowed-host).`,
      );
    const url = new URL(request.url);
    const base = normalizeBase(options.basePath ?? info.basePath ?? "");
    const rest = url.pathname.slice(base.length);
    if (!url.pathname.startsWith(base) || (rest !== "" && !rest.startsWith("/")))
      return textResponse(404, "Not found");
    const path = rest === "" ? "/" : rest;
    const role = await authorize(request, info);
    if (role !== "admin" && role !== "read-only")
      return textResponse(403, "Forbidden: this dashboard is not open to you.");
    if (path === "/assets/dashboard.js") return asset(clientScript, "text/javascript; charset=utf-8");
    if (path === "/assets/dashboard.css") return asset(styles, "text/css; charset=utf-8");
    if (path === "/assets/favicon.svg" || path === "/favicon.ico") return asset(favicon, "image/svg+xml");
    const ctx: PageContext = {
      ops: opsOf(underway),
      base,
      canAct: role === "admin" && options.readOnly !== true,
      csrfToken: csrf.token(),
      now: new Date(),
      url,
      live: options.live !== false,
      refreshable: request.method === "GET" || request.method === "HEAD",
      signNotice: (text) => csrf.signNotice(text),
      timed,
    };
    try {
      if (request.method === "GET" || request.method === "HEAD") {
        if (path === "/events")
          return options.live === false ? textResponse(404, "Not found") : eventStream(live, request.signal);
        return (
          (await page(ctx, path)) ?? htmlResponse(404, layout(ctx, "Not found", html`<p>No such page.</p>`))
        );
      }
      if (request.method !== "POST") return textResponse(405, "Method not allowed");
      // Every write: allowed to act, from this origin, with a valid token.
      if (!ctx.canAct) return textResponse(403, "Forbidden: read-only access.");
      if (!sameOrigin(request, hosts))
        return textResponse(
          403,
          "Forbidden: a write needs an Origin header naming this dashboard's host (browsers send it; scripts must too).",
        );
      const form = await readForm(request);
      if (form === undefined) return textResponse(413, "Request body too large (the limit is 1 MB).");
      if (!csrf.valid(form.get("csrf")))
        return textResponse(403, "Forbidden: missing or expired CSRF token; reload the page.");
      const who = {
        at: new Date(),
        remoteAddress: info.remoteAddress,
        userAgent: request.headers.get("user-agent")?.slice(0, 200) ?? undefined,
      };
      const outcome = await act(ctx, path, form).catch((error: unknown) => {
        // A failed action is audited too: someone tried.
        const action = form.get("do")?.split(":")[0] ?? path.split("/").pop() ?? path;
        audit({
          ...who,
          action,
          target: { path },
          matched: 0,
          changed: 0,
          error: error instanceof Error ? error.message : String(error),
        });
        throw error;
      });
      if (outcome === undefined) return textResponse(404, "Not found");
      if (outcome._tag === "page")
        return htmlResponse(outcome.status, layout(ctx, outcome.title, outcome.body));
      if (outcome.audit !== undefined) audit({ ...outcome.audit, ...who });
      return new Response(null, { status: 303, headers: { ...securityHeaders, location: outcome.location } });
    } catch (error) {
      return failure(ctx, error);
    }
  };
};
