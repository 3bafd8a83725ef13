// HTML built by a tagged template that escapes every interpolated value:
// only `Html` values (themselves built this way) pass through unescaped, so
// a task payload holding `<script>` can only ever render as text.

/** @internal Markup known to be safe: made by `html` or `raw`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const entities: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** @internal Escapes text for HTML content and quoted attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => entities[c] ?? c);

type Part = Html | string | number | boolean | null | undefined | ReadonlyArray<Part>;

const render = (value: Part): string => {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return (value as ReadonlyArray<Part>).map(render).join("");
  return escapeHtml(String(value));
};

/** @internal `html\`<td>${text}</td>\``: interpolations escaped, arrays joined, nullish dropped. */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<Part>): Html => {
  let out = strings[0] ?? "";
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? "");
  });
  return new Html(out);
};

/** @internal Trusted markup: constant strings of this module only, never data. */
export const raw = (text: string): Html => new Html(text);

/** @internal A JSON value pretty-printed as escaped text (for <pre>). */
export const jsonText = (value: unknown): string => {
  if (value === undefined) return "";
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
};
