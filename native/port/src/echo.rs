//! Echo mode: every packet read is written back unchanged.
//!
//! The baseline for benchmarks: the cheapest possible port program, as
//! `open_port({spawn, "cat"}, ..)` would be if `cat` knew `{packet,4}`.
//!
//! | Erlang                                                    | Rust           |
//! |-----------------------------------------------------------|----------------|
//! | `port_command(P, B), receive {P, {data, B}} -> ok end`    | `echo::run(..)`|

use std::io::{self, Read, Write};

use crate::packet::{read_packet, write_packet};

/// Echoes packets from `input` to `output` until `input` ends.
pub fn run(input: &mut impl Read, output: &mut impl Write, max_packet: usize) -> io::Result<()> {
    while let Some(p) = read_packet(input, max_packet)? {
        write_packet(output, &p)?;
        output.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_packet_comes_back() {
        let mut wire = Vec::new();
        crate::packet::write_packet(&mut wire, b"one").unwrap();
        crate::packet::write_packet(&mut wire, b"two").unwrap();
        let mut out = Vec::new();
        super::run(&mut &wire[..], &mut out, 100).unwrap();
        assert_eq!(out, wire);
    }
}
