-- What accepted events do to pool member sets until they are applied, so the ingress
-- can count a pool's serving members as they will be (LoxiLB serves at most 32 per
-- rule): the desired members plus these rows of still unfinished events, replayed in
-- order. Written in the journal's transaction; rows of events done are removed.
-- member_id NULL: the pool's member set is cleared (a batch or a pool create follows
-- with its members); admin_state_up NULL: the member is removed; else the member's
-- admin_state_up (0/1) and weight after the event.
CREATE TABLE member_changes (
    event_id        INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    pool_id         TEXT    NOT NULL,
    member_id       TEXT,
    admin_state_up  INTEGER,
    weight          INTEGER,
    PRIMARY KEY (event_id, seq)
);
CREATE INDEX member_changes_by_pool ON member_changes (pool_id, event_id, seq);

-- The flavor of each accepted load balancer (JSON), so events accepted before its
-- create is applied still know its NAT mode and algorithm.
CREATE TABLE lb_flavors (
    loadbalancer_id  TEXT PRIMARY KEY,
    flavor           TEXT NOT NULL
);
