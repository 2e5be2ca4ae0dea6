//! What a test returns. A failing step ends the test with `Err` through `?`,
//! carrying the context the step names, instead of a panic copied at every call.

use std::fmt::Display;

/// Any error of a test step, boxed (`Send` so spawned helpers can return it too).
pub type TestError = Box<dyn std::error::Error + Send + Sync>;

/// The result of a test or of a harness helper.
pub type TestResult<T = ()> = Result<T, TestError>;

/// `.context("what")`: the error prefixed with the step that failed, for errors that
/// say what went wrong but not where (I/O, JSON, HTTP).
pub trait Context<T> {
    fn context(self, what: impl Display) -> TestResult<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: impl Display) -> TestResult<T> {
        self.map_err(|e| format!("{what}: {e}").into())
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl Display) -> TestResult<T> {
        self.ok_or_else(|| format!("{what}: missing").into())
    }
}

/// The guarded value; a lock poisoned by a panicking thread is still read, so the
/// first failure is the one reported.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `r`'s value, or a panic with its error: for closures whose callers cannot take
/// a `Result` (a test function uses `?` instead).
#[track_caller]
pub fn ok<T, E: Display>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}
