//! Helpers shared by the unit tests (compiled for tests only): one `ok`, one
//! `lock`, and the `TestResult` a test returns so that `?` ends it with the
//! failing step's error instead of a panic copied at every call.

use std::fmt::Display;
use std::sync::{Mutex, MutexGuard};

/// Any error of a test step, boxed.
pub(crate) type TestError = Box<dyn std::error::Error + Send + Sync>;

/// The result of a test or of a test helper.
pub(crate) type TestResult<T = ()> = Result<T, TestError>;

/// `.context("what")`: the error prefixed with the step that failed.
pub(crate) trait Context<T> {
    fn context(self, what: impl Display) -> TestResult<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: impl Display) -> TestResult<T> {
        self.map_err(|e| format!("{what}: {e}").into())
    }
}

/// `r`'s value, or a panic with its error: for closures and helpers that cannot
/// return a `Result` (a test function uses `?` instead).
#[track_caller]
pub(crate) fn ok<T, E: Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// The guarded value; a lock poisoned by a panicking test thread is still read,
/// so the first failure is the one reported.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
