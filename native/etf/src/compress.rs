//! Compressed terms (tag 80): `term_to_binary(T, [compressed])`.
//!
//! `131, 80, UncompressedSize:32, ZlibData`. ferrotp links the same zlib
//! the BEAM does (the system `libz`), so its compressed output is byte for
//! byte the BEAM's at the same level.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Inflates the zlib stream at the start of `data`, which must inflate to
/// exactly `declared` bytes. Returns the bytes and how much of `data` the
/// stream took.
///
/// Output grows with what zlib actually produces and stops one byte past
/// `declared`: a stream that would inflate further (a zlib bomb) is an
/// error long before it costs memory.
pub(crate) fn inflate(data: &[u8], declared: usize) -> Result<(Vec<u8>, usize), &'static str> {
    let mut z = Decompress::new(true);
    let mut out: Vec<u8> = Vec::with_capacity(declared.min(data.len().saturating_mul(4) + 64));
    loop {
        if out.len() == out.capacity() {
            let room = declared + 1 - out.len().min(declared);
            out.reserve_exact(out.capacity().max(64).min(room));
        }
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let input = data.get(z.total_in() as usize..).unwrap_or_default();
        let status = z
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|_| "invalid zlib data")?;
        if out.len() > declared {
            return Err("inflates past its declared size");
        }
        match status {
            Status::StreamEnd => break,
            _ if z.total_in() == in_before && z.total_out() == out_before => {
                return Err("truncated zlib data");
            }
            _ => {}
        }
    }
    if out.len() != declared {
        return Err("inflates short of its declared size");
    }
    Ok((out, z.total_in() as usize))
}

/// Deflates `body` at zlib `level` as `term_to_binary` does, or `None` when
/// the result would not be smaller than `limit` bytes (the BEAM then sends
/// the term uncompressed).
pub(crate) fn deflate(body: &[u8], level: u32, limit: usize) -> Option<Vec<u8>> {
    let mut z = Compress::new(Compression::new(level.min(9)), true);
    let mut out = Vec::with_capacity(limit);
    match z.compress_vec(body, &mut out, FlushCompress::Finish) {
        Ok(Status::StreamEnd) => Some(out),
        _ => None,
    }
}
