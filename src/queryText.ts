/**
 * One query file turned into the statement PostgreSQL runs: shared
 * fragments of `db/fragments/` spliced in where the file says
 * `{{> name}}`, and named parameters (`:queue`) numbered `$1, $2, …` in
 * the order they first appear. Comments, quoted strings and `::` casts are
 * left alone, so a `$1` or `{{> name}}` in a comment is only text.
 */
export interface QueryText {
  /** The statement, still holding `{{schema}}` (bound per client by `withSchema`). */
  readonly text: string;
  /** Its named parameters, `$1` first; empty for a file written with `$n`. */
  readonly params: ReadonlyArray<string>;
  /** The fragments it splices, each once, in order of first use (nested ones included). */
  readonly fragments: ReadonlyArray<string>;
}

/**
 * SQL split into what must not be touched (group 1: a comment, a quoted
 * string or identifier, a `::` cast) and what may be: a fragment reference
 * (group 2), a named parameter (group 3), a positional one (group 4). The
 * look-behind keeps `a[i:j]` slices and `x:y` inside words out.
 */
const tokens =
  /(--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^']|'')*'|"(?:[^"]|"")*"|::)|\{\{>\s*([A-Za-z_]\w*)\s*\}\}|(?<![\w$]):([A-Za-z_]\w*)|\$(\d+)/g;

/** A query file or fragment that cannot be loaded, named by its path. */
const refused = (path: string, why: string): Error => new Error(`${path}: ${why}`);

/**
 * Loads `db/queries/<name>.sql` through `read` (a path relative to `db/`
 * to its text, or undefined when there is no such file). Refuses, with an
 * error naming the file and the culprit: a fragment that does not exist, a
 * fragment that splices itself, and a statement that mixes `$n` with
 * named parameters.
 */
export const queryText = (name: string, read: (path: string) => string | undefined): QueryText => {
  const fragments: string[] = [];
  const splice = (path: string, text: string, within: ReadonlyArray<string>): string =>
    text.replace(tokens, (token, kept: string | undefined, fragment: string | undefined) => {
      if (kept !== undefined || fragment === undefined) return token;
      const fragmentPath = `fragments/${fragment}.sql`;
      if (within.includes(fragment)) throw refused(`db/${path}`, `fragment {{> ${fragment}}} splices itself`);
      const body = read(fragmentPath);
      if (body === undefined)
        throw refused(`db/${path}`, `fragment {{> ${fragment}}} not found in db/fragments/`);
      if (!fragments.includes(fragment)) fragments.push(fragment);
      // Its header comment documents the fragment file, not the statement.
      return splice(fragmentPath, body.replace(/^(?:--[^\n]*\n)+/, "").trimEnd(), [...within, fragment]);
    });
  const path = `queries/${name}.sql`;
  const file = read(path);
  if (file === undefined) throw refused(`db/${path}`, "not found");
  const spliced = splice(path, file.trimEnd(), []);
  const params: string[] = [];
  let positional = false;
  const text = spliced.replace(
    tokens,
    (
      token,
      kept: string | undefined,
      _fragment: unknown,
      named: string | undefined,
      number: string | undefined,
    ) => {
      if (number !== undefined) positional = true;
      if (kept !== undefined || named === undefined) return token;
      const at = params.indexOf(named);
      if (at >= 0) return `$${at + 1}`;
      params.push(named);
      return `$${params.length}`;
    },
  );
  if (positional && params.length > 0)
    throw refused(`db/${path}`, `mixes $n with named parameters (:${params.join(", :")})`);
  return { text: `${text}\n`, params, fragments };
};
