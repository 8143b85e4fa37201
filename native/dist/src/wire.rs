//! A bounds-checked big-endian reader over bytes from a peer.
//!
//! Every protocol layer decodes with it, so no decoder indexes a peer's bytes
//! unchecked: reading past the end is a [`Truncated`] error naming what was
//! being read and where.

/// Input ended before `what` could be read, at byte `offset`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("truncated {what} at byte {offset}")]
pub struct Truncated {
    /// What was being read.
    pub what: &'static str,
    /// Where in the input it started.
    pub offset: usize,
}

/// Reads big-endian integers and byte runs from a slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(Truncated {
                what,
                offset: self.pos,
            }),
        }
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], Truncated> {
        let s = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, Truncated> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, Truncated> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, Truncated> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// Everything not yet read.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos.min(self.buf.len())..];
        self.pos = self.buf.len();
        s
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_past_the_end_is_a_typed_error() {
        let mut r = Reader::new(&[0, 1, 2]);
        assert_eq!(r.u16("a").ok(), Some(1));
        assert_eq!(
            r.u16("b"),
            Err(Truncated {
                what: "b",
                offset: 2
            })
        );
        assert_eq!(r.u8("c").ok(), Some(2));
        assert!(r.is_empty());
    }
}
