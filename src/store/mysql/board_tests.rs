//! The status board on a real MariaDB: what one publication writes is what a reader
//! selects, a full publication replaces a previous leader's rows, and a deposed
//! leader's publication is refused.

use std::time::Duration;

use super::*;
use crate::store::contract::{mysql_store, ok};
use crate::test_support::TestResult;

fn row(kind: &str, id: &str, status: &str, confirmed_at: Option<i64>) -> BoardRow {
    BoardRow {
        kind: kind.into(),
        id: id.into(),
        status: status.into(),
        detail: r#"{"source":"config"}"#.into(),
        confirmed_at,
    }
}

async fn ids(store: &MysqlStore, select: BoardSelect<'_>) -> Vec<String> {
    let (_, rows) = ok(store.read_board(select).await).unwrap_or_else(|| panic!("no board"));
    let mut ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn publications_upsert_delete_and_replace_and_readers_select() -> TestResult {
    let store = mysql_store("board_rw").await?;
    assert!(ok(store.read_board(BoardSelect::Kind("member")).await).is_none());
    let first = [
        row("member", "m1", "ONLINE", None),
        row("member", "m2", "ONLINE", Some(5)),
        row("loadbalancer", "lb1", "ONLINE", None),
    ];
    ok(store
        .publish_board(BoardChange {
            full: true,
            upserts: &first,
            deletes: &[],
            cycle_at: 10,
        })
        .await);
    assert_eq!(ids(&store, BoardSelect::Kind("member")).await, ["m1", "m2"]);
    let wanted = ["lb1".to_string(), "m2".to_string(), "nope".to_string()];
    assert_eq!(ids(&store, BoardSelect::Ids(&wanted)).await, ["lb1", "m2"]);
    assert!(ids(&store, BoardSelect::Ids(&[])).await.is_empty());

    ok(store
        .publish_board(BoardChange {
            full: false,
            upserts: &[row("member", "m1", "ERROR", None)],
            deletes: &[("member".into(), "m2".into())],
            cycle_at: 20,
        })
        .await);
    let (meta, rows) = ok(store.read_board(BoardSelect::Kind("member")).await)
        .unwrap_or_else(|| panic!("no board"));
    assert_eq!(meta.cycle_at, 20);
    assert_eq!(rows, [row("member", "m1", "ERROR", None)]);

    // A new term's first publication replaces everything.
    ok(store
        .publish_board(BoardChange {
            full: true,
            upserts: &[row("pool", "p1", "ONLINE", None)],
            deletes: &[],
            cycle_at: 30,
        })
        .await);
    assert!(ids(&store, BoardSelect::Kind("member")).await.is_empty());
    assert_eq!(ids(&store, BoardSelect::Kind("pool")).await, ["p1"]);
    Ok(())
}

#[tokio::test]
async fn a_publication_without_the_lease_is_refused() -> TestResult {
    let fence = crate::fence::Fence::cluster();
    let store = mysql_store("board_fenced")
        .await?
        .with_fence("ctl-a", fence.clone());
    let change = BoardChange {
        full: true,
        upserts: &[],
        deletes: &[],
        cycle_at: 1,
    };
    let refused = store.publish_board(change).await.err();
    assert!(
        matches!(refused, Some(StoreError::Fenced { .. })),
        "{refused:?}"
    );
    // Its own clock says it may act, but the lease row names no such holder.
    fence.open_until(7, tokio::time::Instant::now() + Duration::from_secs(30));
    let refused = store.publish_board(change).await.err();
    assert!(
        matches!(refused, Some(StoreError::Fenced { epoch: Some(7) })),
        "{refused:?}"
    );
    assert!(ok(store.read_board(BoardSelect::Kind("pool")).await).is_none());
    Ok(())
}
