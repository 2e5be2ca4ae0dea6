-- The leader lease of cluster mode (see src/cluster/ and docs/ha.md): one row per
-- lease name, taken and renewed with conditional autocommit UPDATEs; the epoch is
-- the fencing token. lease_history keeps every acquisition, so the holders' terms can
-- be checked never to overlap.
CREATE TABLE IF NOT EXISTS leases (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NULL,
    epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
    acquired_at DATETIME(6) NULL,
    expires_at DATETIME(6) NOT NULL,
    fenced_writes BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS lease_history (
    name VARCHAR(64) NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    holder VARCHAR(255) NOT NULL,
    acquired_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (name, epoch)
) ENGINE=InnoDB;
