-- :id: a client that stopped its last worker, or closed.
delete from {{schema}}.worker_process where id = :id
