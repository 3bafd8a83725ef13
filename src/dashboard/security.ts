import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../errors.ts";
import type { DashboardRequestInfo, DashboardRole } from "./dashboardOptions.ts";

const loopback = (address: string | undefined): boolean =>
  address !== undefined &&
  (address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127."));

/**
 * Headers a proxy adds. Any one of them means the TCP peer may be a proxy on
 * this machine relaying a visitor from anywhere: nginx's common
 * `proxy_set_header X-Real-IP` sends no `X-Forwarded-For` at all.
 */
const proxyHeaders = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-real-ip",
  "x-client-ip",
  "cf-connecting-ip",
  "true-client-ip",
  "via",
] as const;

/**
 * @internal The default `authorize`: admin from this machine directly, deny
 * everything else. A proxy on this machine would make every visitor look
 * local, so a request with any proxy header is denied too: behind one, pass
 * `authorize`.
 */
export const localOnly = (request: Request, info: DashboardRequestInfo): DashboardRole =>
  loopback(info.remoteAddress) && !proxyHeaders.some((name) => request.headers.has(name)) ? "admin" : "deny";

/** A Host header's name (lowercase, IPv6 in brackets) and port ("" when absent or the default). */
interface HostName {
  readonly name: string;
  readonly port: string;
}

const parseHost = (value: string): HostName | undefined => {
  // A Host header is `name[:port]` and nothing else; URL would accept more
  // (a path, credentials) and quietly drop it.
  if (!/^[A-Za-z0-9._~!$&'()*+,;=:[\]%-]{1,300}$/.test(value)) return undefined;
  try {
    const url = new URL(`http://${value}`);
    return { name: url.hostname, port: url.port };
  } catch {
    return undefined;
  }
};

const loopbackNames = ["127.0.0.1", "localhost", "[::1]"] as const;

/**
 * @internal Which Host headers the dashboard answers. A page of another
 * site whose name an attacker re-points at 127.0.0.1 (DNS rebinding) is
 * same-origin with itself, not with the dashboard, yet reaches it with its
 * own name in Host: so only names that are this dashboard's are let in.
 */
/** What serveDashboard bound: its port, and its address when that is neither loopback nor a wildcard. */
export interface ServedAt {
  readonly port: number;
  readonly address: string | null;
}

export class AllowedHosts {
  private readonly explicit: ReadonlyArray<HostName>;
  private readonly any: boolean;

  /**
   * @param allowedHosts the `allowedHosts` option: `name` (any port),
   *   `name:port`, or `"*"` for any Host.
   * @param served what serveDashboard bound: its port (the loopback names
   *   then count at that port only) and a specific address to add. The bare
   *   handler (null) knows neither, and lets in the loopback names at any port.
   */
  constructor(
    allowedHosts: ReadonlyArray<string>,
    private readonly served: ServedAt | null,
  ) {
    this.any = allowedHosts.includes("*");
    this.explicit = allowedHosts
      .filter((entry) => entry !== "*")
      .map((entry) => {
        const parsed = typeof entry === "string" ? parseHost(entry.toLowerCase()) : undefined;
        if (parsed === undefined)
          throw new ConfigError(
            `dashboard allowedHosts entries are host names with an optional port ("ops.example.com", "ops.example.com:8443") or "*", got ${JSON.stringify(entry)}`,
          );
        return parsed;
      });
  }

  private isDefault(host: HostName): boolean {
    if (this.served === null) return (loopbackNames as ReadonlyArray<string>).includes(host.name);
    const names: ReadonlyArray<string> =
      this.served.address === null ? loopbackNames : [...loopbackNames, this.served.address];
    return names.includes(host.name) && host.port === String(this.served.port);
  }

  /** Is this Host one the operator listed in `allowedHosts`? */
  listed(host: string): boolean {
    const parsed = parseHost(host.toLowerCase());
    return (
      parsed !== undefined &&
      this.explicit.some(
        (entry) => entry.name === parsed.name && (entry.port === "" || entry.port === parsed.port),
      )
    );
  }

  /** May a request with this Host header be answered? */
  allows(host: string | null): boolean {
    if (this.any) return true;
    if (host === null) return false;
    const parsed = parseHost(host.toLowerCase());
    return parsed !== undefined && (this.isDefault(parsed) || this.listed(host));
  }
}

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
 * @internal A write must come from a page of this origin: every browser in
 * use sends `Origin` on every POST, so a POST without one is refused (a
 * script sends `Origin` itself, with the token). The origin must name the
 * Host the request was sent to, or a host listed in `allowedHosts` (a proxy
 * that rewrites Host). `X-Forwarded-Host` is not read: any client can send it.
 */
export const sameOrigin = (request: Request, hosts: AllowedHosts): boolean => {
  const origin = request.headers.get("origin");
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") return false;
  if (origin === null) return false;
  const host = parseHost((request.headers.get("host") ?? new URL(request.url).host).toLowerCase());
  let from: string;
  try {
    from = new URL(origin).host;
  } catch {
    return false;
  }
  const sent = parseHost(from);
  return (
    sent !== undefined &&
    host !== undefined &&
    ((sent.name === host.name && sent.port === host.port) || hosts.listed(from))
  );
};
