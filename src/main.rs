//! Placeholder until the CLI modules are wired in.
fn main() {}
