-- NOTIFY's payload limit is 8000 *bytes*; 0001 compared characters, so an
-- output of 3,000 "€" (9,000 bytes) made every state write of that task fail
-- while someone subscribed to outcomes. Compare bytes, and leave room.
create or replace function {{schema}}.task_changed() returns trigger language plpgsql as $$
declare
  payload jsonb;
  text_payload text;
begin
  if not exists (select 1 from {{schema}}.outcome_listener where expires_at > now()) then
    return null;
  end if;
  payload := jsonb_build_object(
    'id', new.id::text, 'queue', new.queue_name, 'state', new.state, 'attempt', new.attempt,
    'output', new.output, 'error', new.error, 'runAt', new.run_at, 'jobId', new.job_id,
    'stepIndex', new.step_index, 'dlqFrom', new.dlq_from);
  text_payload := payload::text;
  if octet_length(text_payload) > 7800 then
    text_payload := (payload - 'output' - 'error' || '{"truncated": true}'::jsonb)::text;
  end if;
  perform pg_notify(tg_table_schema || '.outcome', text_payload);
  return null;
end;
$$;
