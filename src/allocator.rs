//! The process allocator: jemalloc, returning freed memory to the OS within a second.
//!
//! Why not the system allocator: the daemon's memory has bursts (a status poll of
//! 100k endpoints parses ~50 MB of JSON, a full status refresh builds 120k records,
//! a burst of events queues their arguments) around a much smaller steady state.
//! glibc's malloc keeps most of what a burst freed (it only trims the top of each
//! arena), so resident memory stayed at the high-water mark: 163 MB holding 100k
//! members against ~60 MB live. jemalloc purges unused pages in a background thread
//! after `dirty_decay_ms`, so RSS follows the live heap.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options, read by jemalloc itself (`_rjem_` is the symbol
/// prefix the crate builds it with). Operators can still override them with the
/// `_RJEM_MALLOC_CONF` environment variable.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";
