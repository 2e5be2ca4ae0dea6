-- The MySQL/MariaDB schema of loxilb-coordinator: the SQLite schema after its
-- migrations 0001..0008 (same tables, columns and meanings; see migrations/*.sql),
-- plus two small tables a shared database needs (journal_keys, counters).
-- Numbered on its own: the SQLite history (added columns, a dropped table) does not
-- apply to a database created whole.
-- Keys are VARCHAR with a binary collation (ids compare and sort byte-wise, as in
-- SQLite); bodies are LONGTEXT; times are BIGINT Unix milliseconds. InnoDB, utf8mb4.

CREATE TABLE events (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    method        VARCHAR(128) NOT NULL,
    args          LONGTEXT     NOT NULL,
    ordering_key  VARCHAR(255) NOT NULL,
    object_kind   VARCHAR(64)  NOT NULL,
    object_id     VARCHAR(255) NOT NULL,
    state         VARCHAR(16)  NOT NULL CHECK (state IN ('queued', 'applying', 'done', 'failed')),
    reason        LONGTEXT,
    attempts      BIGINT       NOT NULL DEFAULT 0,
    accepted_at   BIGINT       NOT NULL,
    updated_at    BIGINT       NOT NULL,
    KEY events_by_state (state, id),
    KEY events_by_key (ordering_key, id),
    -- SQLite's partial index on finished events' updated_at: MySQL has no partial
    -- indexes, so (state, updated_at) finds the old finished events the same way.
    KEY events_done_by_time (state, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The last event journaled per ordering key. Every acceptance writes its key's row
-- first: concurrent acceptances of one load balancer queue on that row lock (and on
-- Galera, conflict at certification and are retried), so within a key ids are
-- allocated in commit order, as the single SQLite writer guaranteed.
CREATE TABLE journal_keys (
    ordering_key  VARCHAR(255) NOT NULL PRIMARY KEY,
    last_id       BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE object_owners (
    object_kind      VARCHAR(64)  NOT NULL,
    object_id        VARCHAR(255) NOT NULL,
    loadbalancer_id  VARCHAR(255) NOT NULL,
    PRIMARY KEY (object_kind, object_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE loadbalancers (
    id          VARCHAR(255) NOT NULL PRIMARY KEY,
    body        LONGTEXT     NOT NULL,
    updated_at  BIGINT       NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE listeners (
    id               VARCHAR(255) NOT NULL PRIMARY KEY,
    loadbalancer_id  VARCHAR(255) NOT NULL,
    body             LONGTEXT     NOT NULL,
    updated_at       BIGINT       NOT NULL,
    KEY listeners_by_lb (loadbalancer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE pools (
    id               VARCHAR(255) NOT NULL PRIMARY KEY,
    loadbalancer_id  VARCHAR(255) NOT NULL,
    body             LONGTEXT     NOT NULL,
    updated_at       BIGINT       NOT NULL,
    KEY pools_by_lb (loadbalancer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE members (
    id          VARCHAR(255) NOT NULL PRIMARY KEY,
    pool_id     VARCHAR(255) NOT NULL,
    body        LONGTEXT     NOT NULL,
    updated_at  BIGINT       NOT NULL,
    KEY members_by_pool (pool_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE health_monitors (
    id          VARCHAR(255) NOT NULL PRIMARY KEY,
    pool_id     VARCHAR(255) NOT NULL,
    body        LONGTEXT     NOT NULL,
    updated_at  BIGINT       NOT NULL,
    KEY health_monitors_by_pool (pool_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE probes (
    node        VARCHAR(255) NOT NULL,
    probe_key   VARCHAR(255) NOT NULL,
    host        VARCHAR(255) NOT NULL,
    probe_type  VARCHAR(32)  NOT NULL,
    port        BIGINT       NOT NULL,
    options     LONGTEXT     NOT NULL,
    created_at  BIGINT       NOT NULL,
    PRIMARY KEY (node, probe_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE probe_refs (
    probe_key         VARCHAR(255) NOT NULL,
    member_id         VARCHAR(255) NOT NULL,
    pool_id           VARCHAR(255) NOT NULL,
    healthmonitor_id  VARCHAR(255),
    options           LONGTEXT     NOT NULL,
    created_at        BIGINT       NOT NULL,
    loadbalancer_id   VARCHAR(255) NOT NULL DEFAULT '',
    PRIMARY KEY (probe_key, member_id),
    KEY probe_refs_by_pool (pool_id),
    KEY probe_refs_by_lb (loadbalancer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE probe_intents (
    node       VARCHAR(255) NOT NULL,
    probe_key  VARCHAR(255) NOT NULL,
    options    LONGTEXT     NOT NULL,
    PRIMARY KEY (node, probe_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE status_outbox (
    object_kind          VARCHAR(64)  NOT NULL,
    object_id            VARCHAR(255) NOT NULL,
    provisioning_status  VARCHAR(64),
    operating_status     VARCHAR(64),
    seq                  BIGINT       NOT NULL,
    updated_at           BIGINT       NOT NULL,
    provisioning_seq     BIGINT,
    operating_seq        BIGINT,
    PRIMARY KEY (object_kind, object_id),
    KEY status_outbox_by_seq (seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Named counters. `outbox_seq` numbers queued statuses: each enqueue takes its range
-- under this row's lock, so seqs are unique and follow commit order even with several
-- writers (SQLite's MAX(seq) + 1 relied on its single writer).
CREATE TABLE counters (
    name   VARCHAR(64) NOT NULL PRIMARY KEY,
    value  BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO counters (name, value) VALUES ('outbox_seq', 0);

CREATE TABLE applied_rules (
    node             VARCHAR(255) NOT NULL,
    name             VARCHAR(255) NOT NULL,
    loadbalancer_id  VARCHAR(255) NOT NULL,
    body             LONGTEXT     NOT NULL,
    updated_at       BIGINT       NOT NULL,
    PRIMARY KEY (node, name),
    KEY applied_rules_by_lb (loadbalancer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE node_backlog (
    node             VARCHAR(255) NOT NULL,
    loadbalancer_id  VARCHAR(255) NOT NULL,
    reason           LONGTEXT     NOT NULL,
    attempts         BIGINT       NOT NULL DEFAULT 0,
    since            BIGINT       NOT NULL,
    next_attempt_at  BIGINT       NOT NULL,
    dead_at          BIGINT,
    PRIMARY KEY (node, loadbalancer_id),
    KEY node_backlog_due (dead_at, next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE member_changes (
    event_id        BIGINT       NOT NULL,
    seq             BIGINT       NOT NULL,
    pool_id         VARCHAR(255) NOT NULL,
    member_id       VARCHAR(255),
    admin_state_up  TINYINT,
    weight          INT,
    PRIMARY KEY (event_id, seq),
    KEY member_changes_by_pool (pool_id, event_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lb_flavors (
    loadbalancer_id  VARCHAR(255) NOT NULL PRIMARY KEY,
    flavor           LONGTEXT     NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
