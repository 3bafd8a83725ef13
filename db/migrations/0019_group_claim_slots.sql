-- How many turns a grouped claim of a rate-limited queue may take (issue
-- 21; db/fragments/claimGroups.sql says why): a function, so that the claim
-- statement, planned at every run, carries one call instead of the whole
-- expression (written inline, it cost every claim of every queue, limited
-- or not, about 3 µs of planning: benchmarks/cpuPerTask.ts).
--
-- For queue `queue_of` in claim mode 1 (a rate limit whose own budget may
-- have room): `slots` when a task with a rateLimitKey is pending (those
-- start under budgets of their own); otherwise the room the queue's own
-- budget has now, at most `slots`, read as the rule reads it
-- (0015_rate_limits.sql): of the budget's last `rate_limit` seqs, those
-- that do not exist or started a period ago or more. They are the oldest
-- (starts are in seq order), so the first `slots` of them are all it
-- reads. A hint: task_rate_admit decides.
create function {{schema}}.group_claim_slots(queue_of text, slots integer)
  returns integer language plpgsql stable as $$
declare
  room integer;
begin
  if exists (select from {{schema}}.task k
              where k.queue_name = queue_of and k.state = 'pending' and k.rate_key is not null) then
    return slots;
  end if;
  select count(*)::integer into room
    from {{schema}}.queue q
   cross join lateral (
     select coalesce((select b.last_seq from {{schema}}.rate_budget b
                       where b.queue_name = q.name and b.rate_key = ''), 0) as last_seq) b
   cross join lateral generate_series(b.last_seq - q.rate_limit + 1,
                                      least(b.last_seq, b.last_seq - q.rate_limit + slots)) s(seq)
    left join {{schema}}.rate_start r
      on r.queue_name = q.name and r.rate_key = '' and r.seq = s.seq
   where q.name = queue_of
     and (r.seq is null or r.started_at <= now() - q.rate_period_ms * interval '1 millisecond');
  return room;
end;
$$;
