//! The write side of a connection's TCP socket, shared by its writing task
//! and the threads that write to it directly (see [`crate::connection`]).
//!
//! `tokio::io::split` would put both halves behind one lock and the write
//! half could only be written from a task; here the writers hold one
//! `Arc<TcpStream>` (a duplicate of the reading task's file descriptor, so
//! reads keep tokio's own read path) and write through its readiness, so a
//! process thread can put a small reply straight into the kernel with one
//! `sendto` (`try_write`) instead of waking the writing task. Who may write
//! when is decided by the connection's write lock, not here.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

/// A handle to the connection's socket for writing, usable as an async writer.
#[derive(Clone)]
pub(crate) struct SharedTcp(pub(crate) Arc<TcpStream>);

impl SharedTcp {
    /// Writes as much of `bytes` as the socket takes now, without waiting:
    /// the number of bytes written (less than `bytes.len()` when the
    /// socket's buffer is full).
    pub(crate) fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < bytes.len() {
            let rest = bytes.get(written..).unwrap_or_default();
            match self.0.try_write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = socket2::SockRef::from(&*self.0);
        Poll::Ready(socket.shutdown(std::net::Shutdown::Write))
    }
}
