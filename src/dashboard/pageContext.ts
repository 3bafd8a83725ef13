import type { OpsApi } from "./opsContract.ts";
import { html, type Html } from "./html.ts";

/** @internal A database read that took longer than the page may wait. */
export class SlowQuery extends Error {
  constructor(readonly ms: number) {
    super(`the database did not answer within ${ms} ms`);
  }
}

/** @internal What every page renders with. */
export interface PageContext {
  readonly ops: OpsApi;
  /** The base path, without a trailing slash ("" at the root). */
  readonly base: string;
  /** May this request act? (admin, and the dashboard not read-only) */
  readonly canAct: boolean;
  readonly csrfToken: string;
  readonly now: Date;
  readonly url: URL;
  /** Server-sent events on; false: the page polls. */
  readonly live: boolean;
  /**
   * False for a page answering a POST (a dry-run count, a refusal): its URL
   * takes no GET, so the page must not refresh itself from it.
   */
  readonly refreshable: boolean;
  /** The MAC that lets a notice show after the redirect of an action. */
  signNotice(text: string): string;
  /** Waits for a read at most the configured time, then rejects with `SlowQuery`. */
  timed<A>(read: Promise<A>): Promise<A>;
}

/** @internal A path under the base, with query parameters (empty ones dropped). */
export const href = (
  ctx: Pick<PageContext, "base">,
  path: string,
  params: Readonly<Record<string, string | number | null | undefined>> = {},
): string => {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
  const search = query.toString();
  return `${ctx.base}${path}${search === "" ? "" : `?${search}`}`;
};

/** @internal A POST form with the CSRF token; nothing at all for a request that may not act. */
export const actionForm = (
  ctx: PageContext,
  path: string,
  label: string,
  fields: Readonly<Record<string, string>> = {},
  className = "",
  confirm?: string,
): Html | null =>
  ctx.canAct
    ? html`<form method="post" action="${href(ctx, path)}" class="inline" data-confirm="${confirm ?? null}">
        <input type="hidden" name="csrf" value="${ctx.csrfToken}" />
        ${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`)}
        <button type="submit" class="${className}" data-action="${label.toLowerCase()}">${label}</button>
      </form>`
    : null;

/** @internal The hidden CSRF field for a form built by a page. */
export const csrfField = (ctx: PageContext): Html =>
  html`<input type="hidden" name="csrf" value="${ctx.csrfToken}" />`;

/** @internal Query parameters carrying a signed notice to the page an action redirects to. */
export const noticeParams = (ctx: PageContext, notice: string): { notice: string; sig: string } => ({
  notice,
  sig: ctx.signNotice(notice),
});
