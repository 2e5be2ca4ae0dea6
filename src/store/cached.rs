//! `Store`'s desired-state writes and tree reads, through the leader's write-through
//! tree cache (see `tree_cache` for why and for its consistency rules). The other
//! methods go straight to the backend (`facade`).

use serde_json::Value;

use super::api::{rows_bodies, LbBodies, Table};
use super::sqlite::desired::parse;
use super::tree_cache::Op;
use super::{Backend, Store, StoreError};

impl Backend {
    /// The leadership term the cache may trust, None when it may trust none: a
    /// single SQLite instance is the only writer for its whole life (the file is
    /// locked to it), a cluster member only while it holds the lease, per epoch.
    fn term(&self) -> Option<i64> {
        match self {
            Backend::Sqlite(_) => Some(0),
            Backend::Mysql(b) => b.term(),
        }
    }
}

impl Store {
    /// See [`api::DesiredState::put_object`](super::api::DesiredState::put_object).
    pub async fn put_object(
        &self,
        table: Table,
        id: &str,
        parent: Option<&str>,
        body: &Value,
    ) -> Result<(), StoreError> {
        if table.parent_column().is_some() && parent.is_none() {
            // Refused before any write (the backend names the missing parent).
            return self.backend.put_object(table, id, parent, body).await;
        }
        let op = Op::Put { table, id, parent };
        let write = self.cache.begin_write(self.backend.term(), op);
        let res = self.backend.put_object(table, id, parent, body).await;
        let text = res.is_ok().then(|| body.to_string());
        write.finish(op, text.as_deref());
        res
    }

    /// See [`api::DesiredState::delete_object`](super::api::DesiredState::delete_object).
    pub async fn delete_object(&self, table: Table, id: &str) -> Result<bool, StoreError> {
        let op = Op::Delete { table, id };
        let write = self.cache.begin_write(self.backend.term(), op);
        let res = self.backend.delete_object(table, id).await;
        write.finish(op, res.as_ref().ok().map(|_| ""));
        res
    }

    /// See [`api::DesiredState::delete_loadbalancer_tree`](super::api::DesiredState::delete_loadbalancer_tree).
    pub async fn delete_loadbalancer_tree(
        &self,
        lb_id: &str,
    ) -> Result<Vec<(Table, String)>, StoreError> {
        let op = Op::DeleteTree { lb: lb_id };
        let write = self.cache.begin_write(self.backend.term(), op);
        let res = self.backend.delete_loadbalancer_tree(lb_id).await;
        write.finish(op, res.as_ref().ok().map(|_| ""));
        res
    }

    /// See [`api::DesiredState::get_object`](super::api::DesiredState::get_object).
    pub async fn get_object(&self, table: Table, id: &str) -> Result<Option<Value>, StoreError> {
        if let Some(text) = self.cache.object(self.backend.term(), table, id) {
            return parse(&text).map(Some);
        }
        self.backend.get_object(table, id).await
    }

    /// See [`api::DesiredState::get_with_parent`](super::api::DesiredState::get_with_parent).
    pub async fn get_with_parent(
        &self,
        table: Table,
        id: &str,
    ) -> Result<Option<(Value, Option<String>)>, StoreError> {
        let term = self.backend.term();
        if let Some((body, parent)) = self.cache.object_with_parent(term, table, id) {
            let parent = table.parent_column().map(|_| parent);
            return Ok(Some((parse(&body)?, parent)));
        }
        self.backend.get_with_parent(table, id).await
    }

    /// See [`api::DesiredState::parent_of`](super::api::DesiredState::parent_of).
    pub async fn parent_of(&self, table: Table, id: &str) -> Result<Option<String>, StoreError> {
        if table.parent_column().is_none() {
            return Ok(None);
        }
        let term = self.backend.term();
        if let Some((_, parent)) = self.cache.object_with_parent(term, table, id) {
            return Ok(Some(parent));
        }
        self.backend.parent_of(table, id).await
    }

    /// See [`api::DesiredState::children`](super::api::DesiredState::children).
    pub async fn children(&self, table: Table, parent: &str) -> Result<Vec<Value>, StoreError> {
        if let Some(rows) = self.cache.children(self.backend.term(), table, parent) {
            return rows.iter().map(|(_, body)| parse(body)).collect();
        }
        self.backend.children(table, parent).await
    }

    /// See [`api::DesiredState::child_ids`](super::api::DesiredState::child_ids).
    pub async fn child_ids(&self, table: Table, parent: &str) -> Result<Vec<String>, StoreError> {
        if let Some(rows) = self.cache.children(self.backend.term(), table, parent) {
            return Ok(rows.into_iter().map(|(id, _)| id).collect());
        }
        self.backend.child_ids(table, parent).await
    }

    /// See [`api::SyncReads::lb_bodies`](super::api::SyncReads::lb_bodies).
    pub async fn lb_bodies(&self, lb: &str) -> Result<Option<LbBodies>, StoreError> {
        let term = self.backend.term();
        if let Some(kept) = self.cache.bodies(term, lb) {
            return kept;
        }
        let fill = self.cache.begin_fill(term);
        let rows = self.backend.lb_tree(lb).await?;
        if let (Some(fill), Some(rows)) = (fill, &rows) {
            fill.finish(lb, rows);
        }
        rows_bodies(rows)
    }
}
