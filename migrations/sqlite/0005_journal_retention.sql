-- Journal retention (`[database] retention_days`): finished events are pruned by the
-- time they finished. A partial index holds only finished events, so the hot path's
-- state changes (queued -> applying) do not maintain it, and a pruning pass finds the
-- old ones without scanning the journal.
CREATE INDEX events_done_by_time ON events (updated_at) WHERE state = 'done';
