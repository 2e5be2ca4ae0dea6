-- Initial schema of loxilb-coordinator.
-- Portable SQL only (INTEGER/TEXT, no SQLite-only functions) so that a PostgreSQL
-- backend can reuse the same statements later. Times are Unix milliseconds.

-- Durable journal of every accepted Octavia provider event, in acceptance order.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    method        TEXT    NOT NULL,
    args          TEXT    NOT NULL,
    ordering_key  TEXT    NOT NULL,
    object_kind   TEXT    NOT NULL,
    object_id     TEXT    NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'applying', 'done', 'failed')),
    reason        TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    accepted_at   INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX events_by_state ON events (state, id);

-- Which load balancer a listener or pool belongs to, recorded at acceptance time so
-- that member and health-monitor events (whose dicts only name the pool) are ordered
-- with the rest of their load balancer.
CREATE TABLE object_owners (
    object_kind      TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    loadbalancer_id  TEXT NOT NULL,
    PRIMARY KEY (object_kind, object_id)
);

-- Desired state: what Octavia asked for, as octavia-lib dicts (JSON), keyed for lookups.
CREATE TABLE loadbalancers (
    id          TEXT PRIMARY KEY,
    body        TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE listeners (
    id               TEXT PRIMARY KEY,
    loadbalancer_id  TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX listeners_by_lb ON listeners (loadbalancer_id);
CREATE TABLE pools (
    id               TEXT PRIMARY KEY,
    loadbalancer_id  TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX pools_by_lb ON pools (loadbalancer_id);
CREATE TABLE members (
    id          TEXT PRIMARY KEY,
    pool_id     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX members_by_pool ON members (pool_id);
CREATE TABLE health_monitors (
    id          TEXT PRIMARY KEY,
    pool_id     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX health_monitors_by_pool ON health_monitors (pool_id);

-- LoxiLB endpoint probes this daemon created, per node. Only probes listed here are
-- ever changed or deleted by us: a probe someone else created is left alone.
CREATE TABLE probes (
    node        TEXT    NOT NULL,
    probe_key   TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    probe_type  TEXT    NOT NULL,
    port        INTEGER NOT NULL,
    options     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (node, probe_key)
);

-- Why a probe exists: one row per (probe, member, pool). The probe is deleted when
-- its last reference goes away.
CREATE TABLE probe_refs (
    probe_key         TEXT    NOT NULL,
    member_id         TEXT    NOT NULL,
    pool_id           TEXT    NOT NULL,
    healthmonitor_id  TEXT,
    options           TEXT    NOT NULL,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (probe_key, member_id)
);
CREATE INDEX probe_refs_by_pool ON probe_refs (pool_id);

-- Coordination work that failed and must be retried (for example a probe removal
-- while LoxiLB was unreachable). dead = 1 once the retry budget is exhausted.
CREATE TABLE retries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    first_failed_at  INTEGER NOT NULL,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    dead             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX retries_due ON retries (dead, next_attempt_at);

-- Statuses waiting to be delivered to Octavia's driver agent. One row per object:
-- a newer status replaces an undelivered older one (latest state wins); seq keeps
-- delivery in the order the statuses were produced.
CREATE TABLE status_outbox (
    object_kind          TEXT    NOT NULL,
    object_id            TEXT    NOT NULL,
    provisioning_status  TEXT,
    operating_status     TEXT,
    seq                  INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (object_kind, object_id)
);
CREATE INDEX status_outbox_by_seq ON status_outbox (seq);
