-- :listenerId: no outcome stream of this process is subscribed any more.
delete from {{schema}}.outcome_listener where listener_id = :listenerId
