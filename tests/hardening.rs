//! Issue 16 end to end: the real daemon on TLS and with private files (the
//! connection flood has its own test binary, `conn_flood.rs`: it takes nearly all
//! of the process's file descriptors).

mod common;

#[path = "hardening/files.rs"]
mod files;
#[path = "hardening/tls.rs"]
mod tls;
