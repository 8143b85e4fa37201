//! The `ferrotp` command.
fn main() {}
