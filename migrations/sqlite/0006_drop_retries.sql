-- The retries table of 0001 was never read or written: failed work is retried from the
-- event journal (events) and from the per-node catch-up backlog (node_backlog, with its
-- dead letters). An unused table only misleads whoever reads the schema, so it goes,
-- with its index. IF EXISTS: a database that never had it (none should) still opens.
DROP INDEX IF EXISTS retries_due;
DROP TABLE IF EXISTS retries;
