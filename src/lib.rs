//! loxilb-coordinator library.
pub mod loxilb;
