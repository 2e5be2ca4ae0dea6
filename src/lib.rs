//! loxilb-coordinator library.
pub mod model;
