//! The status board (cluster mode only): the leader's health cache, published so
//! that every instance answers the status API. See `cluster::board` for what is
//! published when, and `migrations/mysql/0003_status_board.sql` for the tables.
//!
//! Not part of the backend-neutral store API: a single SQLite instance always leads
//! and answers from its own cache.

use sqlx::mysql::MySqlRow;
use sqlx::{MySql, QueryBuilder, Row};

use super::rows::{int, opt_int, text};
use super::{retrying, MysqlStore};
use crate::store::StoreError;

/// One published status. `confirmed_at` is None when the leader confirmed it in
/// its latest cycle (`BoardMeta::cycle_at`), else when it last did (Unix µs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardRow {
    pub kind: String,
    pub id: String,
    pub status: String,
    /// The entry's detail as JSON.
    pub detail: String,
    pub confirmed_at: Option<i64>,
}

/// Who published the board and when it last confirmed its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardMeta {
    pub holder: String,
    pub epoch: i64,
    /// Unix µs of the leader's latest health cycle.
    pub cycle_at: i64,
}

/// Which rows a reader wants.
#[derive(Debug, Clone, Copy)]
pub enum BoardSelect<'a> {
    /// Every row of one kind (`"loadbalancer"`, ...).
    Kind(&'a str),
    /// The rows of these object ids, whatever their kind.
    Ids(&'a [String]),
}

/// What one publication changes.
#[derive(Debug, Default, Clone, Copy)]
pub struct BoardChange<'a> {
    /// Replace the whole board (a new term's first publication): rows of a previous
    /// leader that this one no longer knows must not survive it.
    pub full: bool,
    pub upserts: &'a [BoardRow],
    /// (kind, id) of rows to remove.
    pub deletes: &'a [(String, String)],
    pub cycle_at: i64,
}

/// Rows per multi-row statement (well inside max_allowed_packet at ~300 B a row).
const CHUNK: usize = 500;

impl MysqlStore {
    /// Publish one change of the board, fenced like every leader transaction: a
    /// deposed leader's late publication is refused.
    pub async fn publish_board(&self, change: BoardChange<'_>) -> Result<(), StoreError> {
        let (holder, epoch) = match &self.writer {
            Some((me, fence)) => (me.to_string(), fence.epoch().unwrap_or(0)),
            None => (String::new(), 0),
        };
        retrying(|| async {
            let mut tx = self.begin_leader().await?;
            if change.full {
                sqlx::query("DELETE FROM status_board")
                    .execute(&mut *tx)
                    .await?;
            }
            for chunk in change.deletes.chunks(CHUNK) {
                let mut q =
                    QueryBuilder::<MySql>::new("DELETE FROM status_board WHERE (kind, obj_id) IN ");
                q.push_tuples(chunk, |mut b, (kind, id)| {
                    b.push_bind(kind).push_bind(id);
                });
                q.build().execute(&mut *tx).await?;
            }
            for chunk in change.upserts.chunks(CHUNK) {
                let mut q = QueryBuilder::<MySql>::new(
                    "INSERT INTO status_board (kind, obj_id, status, detail, confirmed_at) ",
                );
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(&r.kind)
                        .push_bind(&r.id)
                        .push_bind(&r.status)
                        .push_bind(&r.detail)
                        .push_bind(r.confirmed_at);
                });
                q.push(
                    " ON DUPLICATE KEY UPDATE status = VALUES(status), detail = VALUES(detail), \
                     confirmed_at = VALUES(confirmed_at)",
                );
                q.build().execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO status_board_meta (id, holder, epoch, cycle_at) VALUES (1, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE holder = VALUES(holder), epoch = VALUES(epoch), \
                 cycle_at = VALUES(cycle_at)",
            )
            .bind(&holder)
            .bind(epoch)
            .bind(change.cycle_at)
            .execute(&mut *tx)
            .await?;
            self.commit_leader(tx).await
        })
        .await
    }

    /// The board's publisher and the rows `select` names (None: nothing was ever
    /// published).
    pub async fn read_board(
        &self,
        select: BoardSelect<'_>,
    ) -> Result<Option<(BoardMeta, Vec<BoardRow>)>, StoreError> {
        let meta =
            sqlx::query("SELECT holder, epoch, cycle_at FROM status_board_meta WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        let Some(meta) = meta else {
            return Ok(None);
        };
        let meta = BoardMeta {
            holder: text(&meta, 0)?,
            epoch: int(&meta, 1)?,
            cycle_at: int(&meta, 2)?,
        };
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT kind, obj_id, status, detail, confirmed_at FROM status_board WHERE ",
        );
        match select {
            BoardSelect::Kind(kind) => {
                q.push("kind = ").push_bind(kind);
            }
            BoardSelect::Ids([]) => return Ok(Some((meta, Vec::new()))),
            BoardSelect::Ids(ids) => {
                q.push("obj_id IN (");
                let mut list = q.separated(", ");
                for id in ids {
                    list.push_bind(id);
                }
                q.push(")");
            }
        }
        let rows = q.build().fetch_all(&self.pool).await?;
        let rows = rows.iter().map(row).collect::<Result<Vec<_>, _>>()?;
        Ok(Some((meta, rows)))
    }
}

fn row(r: &MySqlRow) -> Result<BoardRow, StoreError> {
    Ok(BoardRow {
        kind: text(r, 0)?,
        id: text(r, 1)?,
        status: text(r, 2)?,
        detail: r.try_get_unchecked::<String, _>(3)?,
        confirmed_at: opt_int(r, 4)?,
    })
}
