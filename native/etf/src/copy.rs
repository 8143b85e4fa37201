//! Copying large byte runs without x86's 4K-aliasing stall.
//!
//! A forward copy (`memcpy`, which glibc does with `rep movsb` from a few
//! KiB up) whose destination lies 1 to 63 bytes past its source modulo
//! 4 KiB makes every load wait on the store just before it: the CPU sees
//! the same low 12 address bits and assumes they may alias. Measured here:
//! a term of four 256 KiB page-aligned binaries (as mimalloc places large
//! blocks) encoded at 5 GB/s instead of 38, because each binary lands 8..23
//! bytes past a page boundary in the output, after its tag and length.
//! A copy in that window is made in pieces of [`PIECE`] bytes instead:
//! `memcpy` loads a piece that small whole into registers before it
//! stores any of it, so only a piece's first load can wait on the store
//! just before it. Measured on that term (AMD Zen 4, glibc 2.36): pieces
//! of 512 bytes copy as fast as a copy that does not alias at all (the
//! decoder's, 40 GB/s), pieces of 4 KiB (`rep movsb` again) at 5 GB/s; an
//! earlier bounce through a stack buffer (two copies) made 32 GB/s.
//!
//! Erlang has no equivalent: the BEAM copies binaries with `memcpy` too
//! (`sys_memcpy`), its allocators just place them differently.

/// Copies shorter than this are left to `memcpy` as they are.
const CHECK_FROM: usize = 16 * 1024;

/// How far apart (modulo 4 KiB) destination and source stall a copy.
const ALIASING: std::ops::Range<usize> = 1..64;

/// The pieces an aliasing copy is made in: small enough that `memcpy`
/// copies each with all its loads before its stores (8 AVX-512 vectors).
const PIECE: usize = 512;

/// `out.extend_from_slice(bytes)`, steering a large copy clear of 4K aliasing.
pub(crate) fn append_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len());
    let dst = out.as_ptr() as usize + out.len();
    let src = bytes.as_ptr() as usize;
    if bytes.len() < CHECK_FROM || !ALIASING.contains(&(dst.wrapping_sub(src) % 4096)) {
        out.extend_from_slice(bytes);
        return;
    }
    for piece in bytes.chunks(PIECE) {
        out.extend_from_slice(piece);
    }
}

/// `Bytes::copy_from_slice(bytes)`, steering a large copy clear of 4K aliasing.
pub(crate) fn copy_to_bytes(bytes: &[u8]) -> bytes::Bytes {
    if bytes.len() < CHECK_FROM {
        return bytes::Bytes::copy_from_slice(bytes);
    }
    let mut v = Vec::with_capacity(bytes.len());
    append_bytes(&mut v, bytes);
    bytes::Bytes::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every placement of source against destination copies the same
    /// bytes, the piecewise ones included.
    #[test]
    fn appended_bytes_are_the_source_at_every_offset() {
        let src: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for skew in [0usize, 1, 8, 13, 63, 64, 2048, 4095] {
            let mut out = vec![0xAAu8; skew];
            append_bytes(&mut out, &src[skew % 5..]);
            assert_eq!(&out[..skew], &vec![0xAAu8; skew][..]);
            assert_eq!(&out[skew..], &src[skew % 5..]);
            assert_eq!(copy_to_bytes(&src[skew..]), &src[skew..]);
        }
    }

    /// A copy placed in the aliasing window (the piecewise path) copies
    /// exactly.
    #[test]
    fn a_copy_in_the_aliasing_window_copies_exactly() {
        let src: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
        let mut out: Vec<u8> = Vec::with_capacity(src.len() + 8192);
        // Pad `out` so its end sits 8 bytes past `src` modulo 4 KiB.
        let dst = out.as_ptr() as usize;
        let pad = (src.as_ptr() as usize + 8).wrapping_sub(dst) % 4096;
        out.resize(pad, 0);
        let end = out.as_ptr() as usize + out.len();
        assert_eq!(end.wrapping_sub(src.as_ptr() as usize) % 4096, 8);
        append_bytes(&mut out, &src);
        assert_eq!(&out[pad..], &src[..]);
    }
}
