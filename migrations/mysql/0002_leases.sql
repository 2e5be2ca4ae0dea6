-- The leader lease of cluster mode (see src/cluster/ and docs/ha.md): one row per
-- lease name, taken and renewed with conditional autocommit UPDATEs; the epoch is
-- the fencing token. lease_history keeps every acquisition, so the holders' terms can
-- be checked never to overlap. A text collation, not the binary one of 0001: the
-- lease code reads holder as text; the epoch, not the holder's case, tells terms
-- apart.
CREATE TABLE IF NOT EXISTS leases (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NULL,
    epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
    acquired_at DATETIME(6) NULL,
    expires_at DATETIME(6) NOT NULL,
    fenced_writes BIGINT UNSIGNED NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE IF NOT EXISTS lease_history (
    name VARCHAR(64) NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    holder VARCHAR(255) NOT NULL,
    acquired_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (name, epoch)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
