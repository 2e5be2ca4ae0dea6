-- Dead letters of the catch-up backlog. A (node, load balancer) pair that could not be
-- caught up before `retry_max_age`, or whose failure was permanent (LoxiLB refused the
-- call), stops being retried: `dead_at` is set and the row stays for operators (admin
-- API) until a later successful sync of that pair clears it. NULL = still retried.
ALTER TABLE node_backlog ADD COLUMN dead_at INTEGER;
CREATE INDEX node_backlog_due ON node_backlog (dead_at, next_attempt_at);
