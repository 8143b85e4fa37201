//! # ferrotp-nif: the ferrotp runtime inside the BEAM
//!
//! Loaded by `erlang/ferrotp_nif.erl` (`erlang:load_nif/2`). See
//! `docs/nif.md` for the design and how to add behaviours.

pub mod bench;
pub mod convert;

rustler::init!("ferrotp_nif");
