//! loxilb-coordinator library.
pub mod octavia;
