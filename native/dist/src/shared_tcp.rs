//! A connection's TCP socket as two descriptors: one the reading task
//! waits on for readability only, one the writers write to.
//!
//! `tokio::io::split` would put both halves behind one lock, the write half
//! could only be written from a task, and tokio registers every socket for
//! both readability and writability: each ACK of a reply then wakes the
//! I/O driver for nothing. Here:
//!
//! - [`TcpReader`]: the socket registered for readability only (a short
//!   read clears the readiness, as tokio's own read path does);
//! - [`SharedTcp`]: a duplicate descriptor, not registered at all while
//!   writes go through, so a process thread can put a small reply straight
//!   into the kernel with one `sendto` ([`SharedTcp::write_now`]); the
//!   writing task ([`TcpWriter`]) registers it for writability only while
//!   the socket's buffer is full.
//!
//! Who may write when is decided by the connection's write lock, not here.

use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::busy_wait::{readable, BusyWait};

/// Splits `stream` into its reading side and its writing side (two
/// duplicates of its descriptor; `stream` itself is closed).
pub(crate) fn split(
    stream: &tokio::net::TcpStream,
    busy_wait: Duration,
) -> io::Result<(TcpReader, SharedTcp)> {
    let socket = socket2::SockRef::from(stream);
    let reading = TcpStream::from(socket.try_clone()?);
    let writing = TcpStream::from(socket.try_clone()?);
    reading.set_nonblocking(true)?;
    writing.set_nonblocking(true)?;
    // SAFETY: the AsyncFd owns `reading`, so its descriptor stays open and
    // the same for the AsyncFd's whole life.
    let reader = unsafe { AsyncFd::register_with_interest(reading, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)?;
    let reader = TcpReader {
        fd: reader,
        busy_wait: BusyWait::new(busy_wait),
    };
    Ok((reader, SharedTcp(Arc::new(writing))))
}

/// The reading side, registered for readability only. Drained, it
/// busy-waits for more before it sleeps, while that pays
/// ([`crate::busy_wait`]).
pub(crate) struct TcpReader {
    fd: AsyncFd<TcpStream>,
    busy_wait: BusyWait,
}

impl AsyncRead for TcpReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let mut guard = match this.fd.poll_read_ready(cx) {
                Poll::Ready(ready) => ready?,
                Poll::Pending => {
                    // Drained: before sleeping, wait a moment for more
                    // (the waker stays registered; an extra wake-up is
                    // harmless).
                    let socket = this.fd.get_ref();
                    if !this.busy_wait.wait(|| readable(socket)) {
                        return Poll::Pending;
                    }
                    // SAFETY: as below.
                    let unfilled = unsafe { buf.unfilled_mut() };
                    let got = loop {
                        match recv(socket, unfilled) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            got => break got,
                        }
                    };
                    return match got {
                        Ok(n) => {
                            // SAFETY: recv wrote these `n` bytes.
                            unsafe { buf.assume_init(n) };
                            buf.advance(n);
                            Poll::Ready(Ok(()))
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
                        Err(e) => Poll::Ready(Err(e)),
                    };
                }
            };
            // SAFETY: the unfilled part is only written, by the kernel, and
            // only its first `n` bytes are then marked initialised.
            let unfilled = unsafe { buf.unfilled_mut() };
            let wanted = unfilled.len();
            match guard.try_io(|fd| recv(fd.get_ref(), unfilled)) {
                Ok(Ok(n)) => {
                    if n > 0 && n < wanted {
                        // The socket is drained: wait for the next edge
                        // rather than asking again.
                        guard.clear_ready();
                    }
                    // SAFETY: recv wrote these `n` bytes.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Would block: the readiness is cleared, wait again.
                Err(_) => {}
            }
        }
    }
}

/// `recv(2)` into memory not yet initialised (a large message's body is
/// read into its own allocation: zeroing it first would cost a pass over it).
fn recv(socket: &TcpStream, into: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `into` is valid for writes of `into.len()` bytes, the kernel
    // writes at most that many, and the descriptor is open (borrowed).
    let n = unsafe { libc::recv(socket.as_raw_fd(), into.as_mut_ptr().cast(), into.len(), 0) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// The writing side, shared by the writing task and the direct writers.
#[derive(Clone)]
pub(crate) struct SharedTcp(Arc<TcpStream>);

impl SharedTcp {
    /// Writes as much of `bytes` as the socket takes now, without waiting:
    /// the number of bytes written (less than `bytes.len()` when the
    /// socket's buffer is full).
    pub(crate) fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut written = 0;
        while let Some(rest) = bytes.get(written..).filter(|r| !r.is_empty()) {
            match (&*self.0).write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// The writing task's end of the socket.
    pub(crate) fn writer(&self) -> TcpWriter {
        TcpWriter {
            waiting: None,
            socket: self.clone(),
        }
    }
}

impl AsRawFd for SharedTcp {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// The writing task's end: writes straight away, and only when the socket
/// is full registers for writability (until the next flush).
pub(crate) struct TcpWriter {
    /// The socket registered for writability, while it is full.
    waiting: Option<AsyncFd<SharedTcp>>,
    socket: SharedTcp,
}

impl AsyncWrite for TcpWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            if let Some(fd) = &this.waiting {
                let mut guard = ready!(fd.poll_write_ready(cx))?;
                match guard.try_io(|_| (&*this.socket.0).write(buf)) {
                    Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Ok(result) => return Poll::Ready(result),
                    Err(_) => {}
                }
                continue;
            }
            match (&*this.socket.0).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let socket = this.socket.clone();
                    // SAFETY: the AsyncFd holds a handle to the socket, so
                    // its descriptor stays open and the same while registered.
                    let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::WRITABLE) }
                        .map_err(|e| e.into_parts().1)?;
                    this.waiting = Some(fd);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Everything is in the kernel: no more interest in writability.
        self.waiting = None;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.waiting = None;
        Poll::Ready(self.socket.0.shutdown(std::net::Shutdown::Write))
    }
}
