//! # ferrotp: OTP in Rust
//!
//! Processes, links, monitors, exit signals, `gen_server` and `supervisor`
//! with the semantics OTP documents.

#![deny(missing_docs)]

pub use etf;
