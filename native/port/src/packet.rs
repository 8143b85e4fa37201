//! `{packet,4}` packets on a byte stream: a four-byte big-endian length,
//! then that many bytes.
//!
//! | Erlang                                            | Rust                              |
//! |---------------------------------------------------|-----------------------------------|
//! | `open_port(.., [{packet, 4}, binary])`, receive    | `read_packet(&mut stdin, max)?`   |
//! | `port_command(Port, Data)`                         | `write_packet(&mut stdout, &data)?` |
//!
//! ```
//! let mut wire = Vec::new();
//! port::packet::write_packet(&mut wire, b"hello").unwrap();
//! assert_eq!(&wire[..4], &[0, 0, 0, 5]);
//! let got = port::packet::read_packet(&mut &wire[..], 1024).unwrap();
//! assert_eq!(got.as_deref(), Some(&b"hello"[..]));
//! ```

use std::io::{self, Read, Write};

/// Largest packet accepted unless told otherwise: 1 GiB.
pub const DEFAULT_MAX_PACKET: usize = 1 << 30;

/// Reads one packet; `Ok(None)` at a clean end of stream (between packets).
///
/// A length over `max` is an error (`InvalidData`), read before anything
/// is allocated; the buffer grows only as bytes actually arrive.
pub fn read_packet(input: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match input.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream ended inside a packet length",
                ))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("packet of {len} bytes exceeds the limit of {max}"),
        ));
    }
    let mut body = Vec::new();
    let read = input.take(len as u64).read_to_end(&mut body)?;
    if read != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("stream ended after {read} of {len} packet bytes"),
        ));
    }
    Ok(Some(body))
}

/// Writes one packet (length prefix and body); does not flush.
pub fn write_packet(out: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "packet over 4 GiB cannot be framed",
        )
    })?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_follow_each_other() {
        let mut wire = Vec::new();
        write_packet(&mut wire, b"a").unwrap();
        write_packet(&mut wire, b"").unwrap();
        write_packet(&mut wire, &[9u8; 70_000]).unwrap();
        let mut r = &wire[..];
        assert_eq!(read_packet(&mut r, 1 << 20).unwrap().unwrap(), b"a");
        assert_eq!(read_packet(&mut r, 1 << 20).unwrap().unwrap(), b"");
        assert_eq!(read_packet(&mut r, 1 << 20).unwrap().unwrap().len(), 70_000);
        assert!(read_packet(&mut r, 1 << 20).unwrap().is_none());
    }

    #[test]
    fn an_oversized_length_is_refused_before_allocating() {
        let wire = [0xff, 0xff, 0xff, 0xff];
        let err = read_packet(&mut &wire[..], 1024).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_truncated_packet_is_an_error() {
        let wire = [0, 0, 0, 9, 1, 2];
        let err = read_packet(&mut &wire[..], 1024).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let err = read_packet(&mut &wire[..2], 1024).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
