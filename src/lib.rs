//! loxilb-coordinator library.
