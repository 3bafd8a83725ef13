/**
 * Error text as PostgreSQL can always store it. A `text` column refuses NUL
 * and invalid UTF-8, and a lone UTF-16 surrogate has no UTF-8 form, so either
 * in a thrown message would make the failure write itself fail: the attempt
 * would end up `lost` and a `FatalError` retried. Lengths are bounded so a
 * huge message or stack cannot bloat every row and notification.
 */

/** Longest stored error name, in UTF-16 code units. */
export const maxErrorNameLength = 200;
/** Longest stored error message, in UTF-16 code units. */
export const maxErrorMessageLength = 8 * 1024;
/** Longest stored stack, in UTF-16 code units. */
export const maxErrorStackLength = 16 * 1024;

/**
 * Replaces NUL and lone surrogates with U+FFFD and cuts the text to at most
 * `max` code units, marker included, saying how much was cut. Idempotent: a
 * text cut once is not cut (and miscounted) again. Cutting first, then
 * replacing, turns a surrogate pair split by the cut into U+FFFD rather than
 * a lone half.
 */
export const errorText = (text: string, max: number): string => {
  let cut = text;
  if (text.length > max) {
    // The marker's length depends on the count it states: size it for the
    // largest count, which only makes the kept part a digit or two shorter.
    const room = max - `… [${text.length} more characters cut]`.length;
    const kept = Math.max(0, room);
    cut = `${text.slice(0, kept)}… [${text.length - kept} more characters cut]`;
  }
  return cut.replaceAll("\u0000", "\uFFFD").toWellFormed();
};
