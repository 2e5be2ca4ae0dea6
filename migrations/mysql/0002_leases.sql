-- The leader lease of cluster mode (see src/cluster/ and docs/ha.md): one row per
-- lease name, taken and renewed with conditional autocommit UPDATEs; the epoch is
-- the fencing token. lease_history keeps every acquisition, so the holders' terms can
-- be checked never to overlap. Binary collation like 0001: with a case-insensitive
-- one, instances "ctl-1" and "CTL-1" could renew each other's lease (the lease code
-- reads holder unchecked, as the store does its keys). Same as lease_mysql::LEASE_DDL.
CREATE TABLE IF NOT EXISTS leases (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NULL,
    epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
    acquired_at DATETIME(6) NULL,
    expires_at DATETIME(6) NOT NULL,
    fenced_writes BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS lease_history (
    name VARCHAR(64) NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    holder VARCHAR(255) NOT NULL,
    acquired_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (name, epoch)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
