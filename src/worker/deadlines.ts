import { asyncScheduler, type SchedulerLike, type Subscription } from "rxjs";

interface Entry {
  readonly at: number;
  readonly fire: () => void;
  prev: Entry | undefined;
  next: Entry | undefined;
  list: DeadlineList | undefined;
}

interface DeadlineList {
  head: Entry | undefined;
  tail: Entry | undefined;
}

/**
 * Handler timeouts for one worker, on one scheduler timer instead of one
 * per task. Tasks of one timeout length fall due in the order they start,
 * so each length keeps a list in that order (append and removal O(1)), and
 * the single timer is armed for the earliest head. A task that ends early
 * leaves the timer armed: it fires, finds nothing due and re-arms for the
 * new earliest head, so a busy worker sets about one timer per timeout
 * length rather than one per task, and none once nothing is timed (so no
 * timer keeps the process alive). Times come from `scheduler`, so timeouts
 * run on virtual time in tests (a worker on the real scheduler keeps them on
 * a monotonic clock). Should the clock step back, a later task may fire
 * after an earlier one's deadline, never before its own.
 */
export class Deadlines {
  private readonly lists = new Map<number, DeadlineList>();
  private timer: Subscription | undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  private size = 0;

  /**
   * `now` is the clock deadlines are kept on: the scheduler's by default; a
   * worker on the real scheduler passes a monotonic one, so a wall clock
   * stepped forward does not time every running handler out at once.
   */
  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly now: () => number = () => scheduler.now(),
  ) {}

  /** Calls `fire` once `ms` have passed, unless the returned cancel is called first. */
  after(ms: number, fire: () => void): () => void {
    let list = this.lists.get(ms);
    if (list === undefined) {
      list = { head: undefined, tail: undefined };
      this.lists.set(ms, list);
    }
    const entry: Entry = { at: this.now() + ms, fire, prev: list.tail, next: undefined, list };
    if (list.tail === undefined) list.head = entry;
    else list.tail.next = entry;
    list.tail = entry;
    this.size += 1;
    if (entry.at < this.armedAt) this.arm(entry.at);
    return () => this.remove(entry);
  }

  private remove(entry: Entry): void {
    const list = entry.list;
    if (list === undefined) return;
    entry.list = undefined;
    if (entry.prev === undefined) list.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) list.tail = entry.prev;
    else entry.next.prev = entry.prev;
    this.size -= 1;
    // Nothing left to time: no timer may keep the process alive.
    if (this.size === 0) this.disarm();
  }

  private disarm(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
  }

  private arm(at: number): void {
    this.disarm();
    this.armedAt = at;
    this.timer = this.scheduler.schedule(() => this.due(), Math.max(0, at - this.now()));
  }

  private due(): void {
    this.disarm();
    const now = this.now();
    const fired: Array<() => void> = [];
    let earliest = Number.POSITIVE_INFINITY;
    for (const [ms, list] of this.lists) {
      while (list.head !== undefined && list.head.at <= now) {
        fired.push(list.head.fire);
        this.remove(list.head);
      }
      if (list.head === undefined) this.lists.delete(ms);
      else earliest = Math.min(earliest, list.head.at);
    }
    if (earliest !== Number.POSITIVE_INFINITY) this.arm(earliest);
    for (const fire of fired) fire();
  }

  /** Stops the timer; pending deadlines never fire. */
  close(): void {
    this.disarm();
    this.lists.clear();
    this.size = 0;
  }
}

/**
 * Deadlines on `scheduler`, kept on a monotonic clock when it is the real
 * one (a wall clock stepped forward would time every running handler out
 * at once), on its own clock otherwise (virtual time in tests).
 */
export const deadlinesOn = (scheduler: SchedulerLike): Deadlines =>
  new Deadlines(scheduler, scheduler === asyncScheduler ? () => performance.now() : () => scheduler.now());
