//! Locking that survives a panicked holder.

use std::sync::{Mutex, MutexGuard};

/// Lock a mutex, ignoring poisoning: the state stays usable even if a task panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
