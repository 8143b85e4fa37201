//! Reading `{packet,4}` packets from the host without a thread of their
//! own: stdin is polled by the runtime's reactor, so a frame is decoded
//! and delivered on a worker thread, and the process it wakes usually runs
//! next on that same thread (tokio's LIFO slot): no thread hand-off on
//! the way in.
//!
//! | Erlang (a C port)                       | Rust                                     |
//! |-----------------------------------------|------------------------------------------|
//! | `read_exact(0, buf, 4)`, `read_exact(0, buf, len)` | `input.next_packet().await?` |

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;

use bytes::{Bytes, BytesMut};
use tokio::io::unix::AsyncFd;

/// Packets from a file descriptor (a pipe or socket), read asynchronously.
pub struct AsyncInput {
    fd: AsyncFd<File>,
    buf: BytesMut,
    scratch: Box<[u8]>,
    max: usize,
}

impl AsyncInput {
    /// Reads packets of at most `max` bytes from `file`, which is switched
    /// to non-blocking mode. Must be called inside a tokio runtime.
    pub fn new(file: File, max: usize) -> io::Result<AsyncInput> {
        set_nonblocking(&file)?;
        // SAFETY: `file` owns its descriptor, and the `AsyncFd` owns `file`
        // for its whole life: the descriptor stays open and the same.
        let fd = unsafe { AsyncFd::register_with_interest(file, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        Ok(AsyncInput {
            fd,
            buf: BytesMut::with_capacity(64 * 1024),
            scratch: vec![0; 64 * 1024].into_boxed_slice(),
            max,
        })
    }

    /// The next packet's body; `Ok(None)` at end of input between packets.
    pub async fn next_packet(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            if let Some(len) = self.complete_packet()? {
                return Ok(Some(take_packet(&mut self.buf, len)));
            }
            if self.fill().await? == 0 {
                return at_end(&self.buf);
            }
        }
    }

    /// The length of the packet at the front of the buffer, once all of it
    /// is there.
    fn complete_packet(&mut self) -> io::Result<Option<usize>> {
        let found = packet_len(&self.buf, self.max)?;
        if found.is_none() {
            reserve_rest(&mut self.buf);
        }
        Ok(found)
    }

    /// Reads what is available; 0 at end of input.
    async fn fill(&mut self) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            let scratch = &mut self.scratch;
            match guard.try_io(|fd| fd.get_ref().read(&mut scratch[..])) {
                Ok(Ok(n)) => {
                    if n > 0 && n < self.scratch.len() {
                        // A short read drained the pipe: wait for the next
                        // readiness event instead of spending a read(2) on
                        // EAGAIN (tokio keeps any event that came meanwhile).
                        guard.clear_ready();
                    }
                    self.buf.extend_from_slice(&self.scratch[..n]);
                    return Ok(n);
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => {}
            }
        }
    }
}

/// Packets from a file descriptor, read with blocking reads: the thread
/// sleeps in `read(2)`, the way a C port program does, and knows when
/// nothing more is buffered ([`BlockingInput::has_packet`]) before it
/// sleeps again.
pub struct BlockingInput {
    file: File,
    buf: BytesMut,
    max: usize,
}

impl BlockingInput {
    /// Reads packets of at most `max` bytes from `file` (left blocking).
    pub fn new(file: File, max: usize) -> BlockingInput {
        BlockingInput {
            file,
            buf: BytesMut::with_capacity(64 * 1024),
            max,
        }
    }

    /// Whether a whole packet is buffered: the next
    /// [`BlockingInput::next_packet`] returns without reading.
    pub fn has_packet(&self) -> bool {
        matches!(packet_len(&self.buf, self.max), Ok(Some(_)))
    }

    /// Whether input is waiting to be read (`poll(2)` with no timeout).
    pub fn readable(&self) -> bool {
        dist::busy_wait::readable(&self.file)
    }

    /// The next packet's body; `Ok(None)` at end of input between packets.
    pub fn next_packet(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            if let Some(len) = packet_len(&self.buf, self.max)? {
                return Ok(Some(take_packet(&mut self.buf, len)));
            }
            if !reserve_rest(&mut self.buf) {
                self.buf.reserve(64 * 1024);
            }
            if self.fill()? == 0 {
                return at_end(&self.buf);
            }
        }
    }

    /// One `read(2)` into the buffer's spare capacity; 0 at end of input.
    fn fill(&mut self) -> io::Result<usize> {
        let spare = self.buf.spare_capacity_mut();
        loop {
            // SAFETY: `spare` is valid for writes of `spare.len()` bytes,
            // the kernel writes at most that many, and the descriptor is
            // open (owned by `self.file`).
            let n = unsafe {
                libc::read(
                    self.file.as_raw_fd(),
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                )
            };
            match usize::try_from(n) {
                Ok(n) => {
                    // SAFETY: read(2) initialised these `n` bytes.
                    unsafe { self.buf.set_len(self.buf.len() + n) };
                    return Ok(n);
                }
                Err(_) => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// The length of the packet at the front of `buf` once all of it is
/// there; an error when its length is over `max`.
fn packet_len(buf: &[u8], max: usize) -> io::Result<Option<usize>> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let mut len = [0u8; 4];
    len.copy_from_slice(prefix);
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("packet of {len} bytes exceeds the limit of {max}"),
        ));
    }
    Ok((buf.len() >= 4 + len).then_some(len))
}

/// The body of the `len`-byte packet at the front of `buf`, taken out.
fn take_packet(buf: &mut BytesMut, len: usize) -> Bytes {
    let mut packet = buf.split_to(4 + len);
    packet.split_off(4).freeze()
}

/// What a read ends with once the input is closed: nothing between
/// packets, an error inside one.
fn at_end(buf: &BytesMut) -> io::Result<Option<Bytes>> {
    if buf.is_empty() {
        Ok(None)
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("input ended inside a packet ({} bytes)", buf.len()),
        ))
    }
}

/// Room for the rest of the packet whose length `buf` starts with, as it
/// arrives (at most 16 MiB ahead); `false` while not even the length is
/// there.
fn reserve_rest(buf: &mut BytesMut) -> bool {
    let Some(prefix) = buf.get(..4) else {
        return false;
    };
    let mut len = [0u8; 4];
    len.copy_from_slice(prefix);
    let wanted = 4 + u32::from_be_bytes(len) as usize;
    buf.reserve(wanted.saturating_sub(buf.len()).min(16 << 20));
    true
}

fn set_nonblocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    fn pair() -> (File, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (File::from(OwnedFd::from(a)), b)
    }

    fn packet(body: &[u8]) -> Vec<u8> {
        let mut p = (body.len() as u32).to_be_bytes().to_vec();
        p.extend_from_slice(body);
        p
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn packets_split_across_reads_come_out_whole_and_in_order() {
        let (file, mut writer) = pair();
        let big = vec![5u8; 300_000];
        let mut wire = packet(b"first");
        wire.extend(packet(&big));
        wire.extend(packet(b""));
        let feeder = std::thread::spawn(move || {
            for chunk in wire.chunks(7_777) {
                writer.write_all(chunk).unwrap();
            }
        });
        runtime().block_on(async {
            let mut input = AsyncInput::new(file, 1 << 20).unwrap();
            assert_eq!(&input.next_packet().await.unwrap().unwrap()[..], b"first");
            assert_eq!(input.next_packet().await.unwrap().unwrap().len(), 300_000);
            assert_eq!(&input.next_packet().await.unwrap().unwrap()[..], b"");
            feeder.join().unwrap();
            assert!(input.next_packet().await.unwrap().is_none());
        });
    }

    #[test]
    fn blocking_reads_give_whole_packets_in_order_and_know_what_is_buffered() {
        let (file, mut writer) = pair();
        let big = vec![5u8; 300_000];
        let mut wire = packet(b"first");
        wire.extend(packet(b"second"));
        wire.extend(packet(&big));
        wire.extend(packet(b""));
        let feeder = std::thread::spawn(move || {
            for chunk in wire.chunks(7_777) {
                writer.write_all(chunk).unwrap();
            }
        });
        let mut input = BlockingInput::new(file, 1 << 20);
        assert!(!input.has_packet());
        assert_eq!(&input.next_packet().unwrap().unwrap()[..], b"first");
        // Both small packets came in the first read.
        assert!(input.has_packet());
        assert_eq!(&input.next_packet().unwrap().unwrap()[..], b"second");
        assert_eq!(input.next_packet().unwrap().unwrap().len(), 300_000);
        assert_eq!(&input.next_packet().unwrap().unwrap()[..], b"");
        feeder.join().unwrap();
        assert!(input.next_packet().unwrap().is_none());
    }

    #[test]
    fn blocking_reads_refuse_a_cut_packet_and_an_oversized_one() {
        let (file, mut writer) = pair();
        writer.write_all(&[0, 0, 0, 10, 1, 2]).unwrap();
        drop(writer);
        let err = BlockingInput::new(file, 1 << 20).next_packet().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

        let (file, mut writer) = pair();
        writer.write_all(&[0x7f, 0xff, 0xff, 0xff]).unwrap();
        let err = BlockingInput::new(file, 1 << 20).next_packet().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn input_ending_inside_a_packet_is_an_error() {
        let (file, mut writer) = pair();
        writer.write_all(&[0, 0, 0, 10, 1, 2]).unwrap();
        drop(writer);
        runtime().block_on(async {
            let mut input = AsyncInput::new(file, 1 << 20).unwrap();
            let err = input.next_packet().await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        });
    }

    #[test]
    fn a_length_over_the_limit_is_refused() {
        let (file, mut writer) = pair();
        writer.write_all(&[0x7f, 0xff, 0xff, 0xff]).unwrap();
        runtime().block_on(async {
            let mut input = AsyncInput::new(file, 1 << 20).unwrap();
            let err = input.next_packet().await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        });
    }
}
