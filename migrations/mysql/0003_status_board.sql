-- The status board of cluster mode (see src/cluster/board.rs and docs/ha.md): the
-- leader publishes its health cache here so that every instance answers the status
-- API, not only the leader. Rows change only when an object's status or detail
-- changes; status_board_meta.cycle_at says when the leader last confirmed the rows
-- whose confirmed_at is NULL. Times are Unix microseconds of the leader's clock.
CREATE TABLE IF NOT EXISTS status_board (
    kind VARCHAR(16) NOT NULL,
    obj_id VARCHAR(255) NOT NULL,
    status VARCHAR(32) NOT NULL,
    detail TEXT NOT NULL,
    confirmed_at BIGINT NULL,
    PRIMARY KEY (kind, obj_id),
    KEY status_board_obj (obj_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS status_board_meta (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NOT NULL,
    epoch BIGINT UNSIGNED NOT NULL,
    cycle_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
