//! Striped async locks.
//!
//! Two things must not interleave: two syncs of one load balancer (an event and a
//! node catch-up), and two load balancers' updates of one shared probe (both would
//! merge options from a different snapshot of the references). A fixed set of
//! stripes keyed by hash gives that without a map that grows with every id; two
//! unrelated keys sharing a stripe only wait for each other, never deadlock, because
//! stripes are always taken in ascending order.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use tokio::sync::{Mutex, MutexGuard};

pub struct Stripes {
    locks: Vec<Mutex<()>>,
}

impl Stripes {
    pub fn new(n: usize) -> Stripes {
        Stripes {
            locks: (0..n.max(1)).map(|_| Mutex::new(())).collect(),
        }
    }

    fn index(&self, key: &str) -> usize {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        // The modulo keeps the value below `locks.len()`, which is a usize.
        usize::try_from(h.finish() % self.locks.len() as u64).unwrap_or(0)
    }

    /// Lock the stripe of one key.
    pub async fn lock_one(&self, key: &str) -> MutexGuard<'_, ()> {
        self.locks[self.index(key)].lock().await
    }

    /// Lock the stripes of all `keys`, in ascending stripe order.
    pub async fn lock_all<'a, I>(&self, keys: I) -> Vec<MutexGuard<'_, ()>>
    where
        I: IntoIterator<Item = &'a String>,
    {
        let stripes: BTreeSet<usize> = keys.into_iter().map(|k| self.index(k)).collect();
        let mut guards = Vec::with_capacity(stripes.len());
        for i in stripes {
            guards.push(self.locks[i].lock().await);
        }
        guards
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn same_key_waits_and_overlapping_sets_do_not_deadlock() {
        let s = Arc::new(Stripes::new(8));
        let g = s.lock_one("lb-1").await;
        let s2 = s.clone();
        let waiter = tokio::spawn(async move {
            let _g = s2.lock_one("lb-1").await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "second lock of the same key did not wait"
        );
        drop(g);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("released")
            .expect("task");

        let keys_a: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        let keys_b: Vec<String> = (0..20).rev().map(|i| format!("k{i}")).collect();
        let mut tasks = Vec::new();
        for keys in [keys_a, keys_b] {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..50 {
                    let _g = s.lock_all(keys.iter()).await;
                    tokio::task::yield_now().await;
                }
            }));
        }
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .expect("no deadlock")
                .expect("task");
        }
    }
}
