-- What this daemon has applied on each LoxiLB node. The applier diffs desired state
-- against these rows, so an event replayed after a crash changes nothing that is
-- already in place, and a node that missed changes can be caught up later.

-- LB rules we applied, per node (node = the node's configured URL).
CREATE TABLE applied_rules (
    node             TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    loadbalancer_id  TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (node, name)
);
CREATE INDEX applied_rules_by_lb ON applied_rules (loadbalancer_id);

-- Probe references belong to a load balancer too, so one load balancer's sync can
-- replace its own references without touching other load balancers sharing a probe.
ALTER TABLE probe_refs ADD COLUMN loadbalancer_id TEXT NOT NULL DEFAULT '';
CREATE INDEX probe_refs_by_lb ON probe_refs (loadbalancer_id);

-- Load balancers a node has not caught up with (it was unreachable when a change was
-- applied to the other nodes). The catch-up task drains this table.
CREATE TABLE node_backlog (
    node             TEXT    NOT NULL,
    loadbalancer_id  TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    since            INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    PRIMARY KEY (node, loadbalancer_id)
);
