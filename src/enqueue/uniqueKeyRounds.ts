/**
 * How many times `enqueue` and `enqueueMany` insert again when a unique
 * key's holder finished between the insert that found the key taken and the
 * look-up of its id (the key is free then). Each round means another task
 * with that key ended meanwhile, so running out takes a key taken and freed
 * faster than two statements run, again and again.
 */
export const uniqueKeyRounds = 100;

/** The error once those rounds ran out, naming the call and the key. */
export const uniqueKeyChurn = (call: string, queue: string, key: string | null): string =>
  `${call} on queue ${queue}: the unique key ${JSON.stringify(key)} was taken and freed ${uniqueKeyRounds} times while this call ran`;
