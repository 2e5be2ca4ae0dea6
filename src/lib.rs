//! loxilb-coordinator library.

pub mod config;
