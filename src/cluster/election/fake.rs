//! An in-memory lease store with the MySQL statements' semantics, on tokio's clock
//! (so `tokio::time::pause` drives it), that can be told to stop answering.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{Attempt, LeaseRow, LeaseStore, LeaseStoreError};
use crate::test_support::lock;

/// How the fake answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    /// Every call fails at once (connection refused).
    Failing,
    /// Every call hangs while the mode stays so (a database that stopped answering),
    /// then fails as a connection reset would.
    Hanging,
}

#[derive(Debug)]
struct Row {
    holder: Option<String>,
    epoch: u64,
    expires: Instant,
}

#[derive(Debug)]
struct Inner {
    row: Row,
    /// (epoch, holder, acquired at) of every acquire: the lease history.
    history: Vec<(u64, String, Instant)>,
}

/// One instance's connection to the fake database. Clones share the row and the
/// mode; [`FakeLeases::connect`] gives another instance its own mode, so one instance
/// can lose the database while the other keeps it.
#[derive(Debug, Clone)]
pub struct FakeLeases {
    db: Arc<Mutex<Inner>>,
    mode: Arc<Mutex<Mode>>,
}

impl FakeLeases {
    pub fn new() -> Self {
        FakeLeases {
            db: Arc::new(Mutex::new(Inner {
                row: Row {
                    holder: None,
                    epoch: 0,
                    expires: Instant::now() - Duration::from_secs(1),
                },
                history: Vec::new(),
            })),
            mode: Arc::new(Mutex::new(Mode::Up)),
        }
    }

    /// Another instance's connection to the same database.
    pub fn connect(&self) -> Self {
        FakeLeases {
            db: self.db.clone(),
            mode: Arc::new(Mutex::new(Mode::Up)),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        lock(&self.db)
    }

    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.mode) = mode;
    }

    /// When the row expires by the database's clock.
    pub fn expires(&self) -> Instant {
        self.inner().row.expires
    }

    pub fn history(&self) -> Vec<(u64, String, Instant)> {
        self.inner().history.clone()
    }

    /// Fails or hangs as the mode says; `Ok` when up.
    async fn gate(&self) -> Result<(), LeaseStoreError> {
        let mode = || *lock(&self.mode);
        match mode() {
            Mode::Up => Ok(()),
            Mode::Failing => Err(LeaseStoreError("connection refused".into())),
            Mode::Hanging => {
                while mode() == Mode::Hanging {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(LeaseStoreError("connection reset".into()))
            }
        }
    }

    fn read(inner: &Inner) -> LeaseRow {
        LeaseRow {
            holder: inner.row.holder.clone(),
            epoch: inner.row.epoch,
            remaining: inner.row.expires.saturating_duration_since(Instant::now()),
        }
    }
}

#[async_trait::async_trait]
impl LeaseStore for FakeLeases {
    async fn try_acquire(&self, me: &str, ttl: Duration) -> Result<Attempt, LeaseStoreError> {
        self.gate().await?;
        let mut inner = self.inner();
        let now = Instant::now();
        let won = inner.row.expires < now;
        if won {
            inner.row = Row {
                holder: Some(me.to_owned()),
                epoch: inner.row.epoch + 1,
                expires: now + ttl,
            };
            let epoch = inner.row.epoch;
            inner.history.push((epoch, me.to_owned(), now));
        }
        Ok(Attempt {
            won,
            row: Some(Self::read(&inner)),
        })
    }

    async fn renew(&self, me: &str, epoch: u64, ttl: Duration) -> Result<Attempt, LeaseStoreError> {
        self.gate().await?;
        let mut inner = self.inner();
        let won = inner.row.holder.as_deref() == Some(me) && inner.row.epoch == epoch;
        if won {
            inner.row.expires = Instant::now() + ttl;
        }
        Ok(Attempt {
            won,
            row: Some(Self::read(&inner)),
        })
    }

    async fn release(&self, me: &str, epoch: u64) -> Result<(), LeaseStoreError> {
        self.gate().await?;
        let mut inner = self.inner();
        if inner.row.holder.as_deref() == Some(me) && inner.row.epoch == epoch {
            inner.row.expires = Instant::now() - Duration::from_micros(1);
        }
        Ok(())
    }
}
