import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { DashboardRequestInfo, DashboardRole } from "./dashboardOptions.ts";

const loopback = (address: string | undefined): boolean =>
  address !== undefined &&
  (address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127."));

/**
 * @internal The default `authorize`: admin from this machine directly, deny
 * everything else. A proxy on this machine would make every visitor look
 * local, so a forwarded request is denied too: behind one, pass `authorize`.
 */
export const localOnly = (request: Request, info: DashboardRequestInfo): DashboardRole =>
  loopback(info.remoteAddress) && !request.headers.has("forwarded") && !request.headers.has("x-forwarded-for")
    ? "admin"
    : "deny";

// A token lives this long; pages refresh it on every render.
const tokenTtlMs = 12 * 3_600_000;

/**
 * @internal CSRF tokens: an HMAC of the issue time under a secret made per
 * handler (per process), so no page of another origin can know one, and a
 * restart invalidates them all. Checked with the request's Origin.
 */
export class Csrf {
  private readonly secret = randomBytes(32);

  private sign(issued: string): string {
    return createHmac("sha256", this.secret).update(`underway-dashboard:${issued}`).digest("base64url");
  }

  token(now = Date.now()): string {
    const issued = String(now);
    return `${issued}.${this.sign(issued)}`;
  }

  /**
   * A MAC of a notice shown after an action, so a link from elsewhere
   * cannot put its own words ("session expired, log in at …") on the page.
   */
  signNotice(text: string): string {
    return createHmac("sha256", this.secret).update(`underway-dashboard-notice:${text}`).digest("base64url");
  }

  validNotice(text: string, mac: string | null): boolean {
    if (mac === null) return false;
    const expected = Buffer.from(this.signNotice(text));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  valid(token: string | null, now = Date.now()): boolean {
    if (token === null) return false;
    const [issued, mac] = token.split(".");
    if (issued === undefined || mac === undefined || !/^\d{1,15}$/.test(issued)) return false;
    const age = now - Number(issued);
    if (age < 0 || age > tokenTtlMs) return false;
    const expected = Buffer.from(this.sign(issued));
    const given = Buffer.from(mac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

/**
 * @internal A write must come from a page of this origin: a browser sends
 * `Origin` (and `Sec-Fetch-Site`) on every POST; a request with neither is
 * not from a browser page, and it still needs the token.
 */
export const sameOrigin = (request: Request): boolean => {
  const origin = request.headers.get("origin");
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") return false;
  if (origin === null) return true;
  const host = request.headers.get("x-forwarded-host") ?? request.headers.get("host");
  try {
    return new URL(origin).host === (host ?? new URL(request.url).host);
  } catch {
    return false;
  }
};
