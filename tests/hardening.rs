//! Issue 16 end to end: the real daemon under connection floods, on TLS, with
//! private files.

mod common;

#[path = "hardening/conns.rs"]
mod conns;
#[path = "hardening/files.rs"]
mod files;
#[path = "hardening/tls.rs"]
mod tls;
