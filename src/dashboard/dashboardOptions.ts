import type { OptionShape } from "../optionShape.ts";

/** What a request may do: act, only look, or nothing (403). */
export type DashboardRole = "admin" | "read-only" | "deny";

/**
 * What the Fetch handler knows beyond the `Request`: the node:http adapter
 * fills it in; a plain Fetch host (Deno, Bun, a worker) may pass its own.
 */
export interface DashboardRequestInfo {
  /** The client's address (the TCP peer; a proxy in front shows as itself). */
  readonly remoteAddress?: string | undefined;
  /** The path the host mounted the handler at (Express' `req.baseUrl`), when not given as `basePath`. */
  readonly basePath?: string | undefined;
}

/** One action taken through the dashboard, as reported to `onAudit` and the client's logger. */
export interface DashboardAuditEvent {
  /** `retry`, `cancel`, `delete`, `redrive`, `pause`, `resume` or `rate-limit`. */
  readonly action: string;
  /** What it applied to: a queue, a task id, or the filter of a bulk action. */
  readonly target: Readonly<Record<string, unknown>>;
  /** Tasks the action matched (0 for pause, resume and rate-limit). */
  readonly matched: number;
  /** Tasks it changed: fewer than matched when some were no longer in a state it applies to. */
  readonly changed: number;
  /** When it was done. */
  readonly at: Date;
  /** The client's address when known. */
  readonly remoteAddress: string | undefined;
  /** The `User-Agent` header, bounded. */
  readonly userAgent: string | undefined;
  /** Set when the action failed: the error's message. */
  readonly error?: string;
}

/** What {@link dashboard} takes, checked before anything is served. */
export const dashboardOptionShape: OptionShape = {
  basePath: {
    is: (value) => typeof value === "string" && /^\/?[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(value),
    expected: 'a URL path such as "/admin/queues"',
  },
  authorize: "function",
  allowedHosts: "string[]",
  readOnly: "boolean",
  onAudit: "function",
  queryTimeoutMs: { type: "integer", min: 1, max: 2_147_483_647 },
  live: "boolean",
};

/** Options of {@link dashboard}. */
export interface DashboardOptions {
  /**
   * Where the dashboard lives in the URL space, such as `/admin/queues`.
   * Default: the mount path the adapter reports (Express' `req.baseUrl`), else `/`.
   */
  readonly basePath?: string;
  /**
   * Decides per request. Default (safe): `"admin"` for a request whose TCP
   * peer is a loopback address and that carries no proxy header
   * (`Forwarded`, `X-Forwarded-For`, `X-Forwarded-Host`,
   * `X-Forwarded-Proto`, `X-Real-IP`, `X-Client-IP`, `CF-Connecting-IP`,
   * `True-Client-IP`, `Via`), `"deny"` for every other request, including
   * a Fetch request without a known address.
   * Behind your app's login, pass your own, e.g.
   * `(request) => sessionOf(request)?.isAdmin ? "admin" : "deny"`.
   */
  readonly authorize?: (
    request: Request,
    info: DashboardRequestInfo,
  ) => DashboardRole | Promise<DashboardRole>;
  /**
   * Host names (with an optional port: `"ops.example.com"` allows any port,
   * `"ops.example.com:8443"` that one) the dashboard answers besides the
   * loopback names `127.0.0.1`, `localhost` and `[::1]` (at any port for the
   * handler, at its own port for `serveDashboard`). A request with any other
   * `Host` gets a 403 naming this option: a web page whose name was
   * re-pointed at this machine (DNS rebinding) would otherwise be
   * let in. Mounted under a public name, list it here. `["*"]` answers any
   * Host (only behind a proxy that checks Host itself). Default none.
   */
  readonly allowedHosts?: ReadonlyArray<string>;
  /** No actions for anyone, whatever `authorize` says. Default false. */
  readonly readOnly?: boolean;
  /** Called once per action (after it ran, or failed). Also logged through the client's logger. */
  readonly onAudit?: (event: DashboardAuditEvent) => void;
  /**
   * How long a page waits for the database before it shows a "slow query"
   * banner instead of the data. Default 5,000 ms.
   */
  readonly queryTimeoutMs?: number;
  /** Server-sent events for live updates; false leaves polling only. Default true. */
  readonly live?: boolean;
}
