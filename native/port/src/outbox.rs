//! The outbox: frames leaving the port program for the host, and the
//! [`Transport`] that feeds it.
//!
//! A process that sends to the host and finds nobody writing encodes the
//! frame straight into the output buffer (behind whatever others queued)
//! and writes it with one `write(2)`: a lone reply allocates nothing and is
//! written at once, without waking another thread. A process that finds
//! the output busy encodes its frame itself (in parallel with the writer)
//! and queues it; the writer looks at the queue again before it leaves, so
//! a burst of frames costs one `write(2)`. This is flat combining: whoever
//! holds the output lock writes for everyone who queued meanwhile.
//!
//! | Erlang (a port program written in C)      | Rust                               |
//! |-------------------------------------------|------------------------------------|
//! | `write_exact(buf, len)` on fd 1           | `outbox.push(&frame)`              |
//!
//! ```
//! use port::outbox::Outbox;
//! use port::frame::Frame;
//! use dist::control::ControlMessage;
//! use etf::{Atom, Pid, Term};
//! let wire = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
//! struct Sink(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);
//! impl std::io::Write for Sink {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().extend_from_slice(b); Ok(b.len()) }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//! let outbox = Outbox::new(Sink(wire.clone()));
//! let to = Pid { node: Atom::new("vm@h"), id: 1, serial: 0, creation: 1 };
//! outbox.push(&Frame::new(ControlMessage::Send { to }, Some(Term::Int(1))));
//! let wire = wire.lock();
//! assert_eq!(&wire[..4], &(wire.len() as u32 - 4).to_be_bytes());
//! ```

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferrotp::{Signal, Transport};
use parking_lot::Mutex;

use crate::frame::Frame;
use crate::signals::signal_to_frame;

/// The largest write buffer kept for the next frames.
const MAX_KEPT: usize = 1 << 20;

/// Queues frames for the host and writes them; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

struct Shared {
    /// Packets queued by processes that found the output busy, in order.
    queue: Mutex<Vec<u8>>,
    out: Mutex<Writer>,
    broken: AtomicBool,
}

/// The output and the buffer packets are gathered in before one write.
struct Writer {
    sink: Box<dyn Write + Send>,
    /// What the next `write(2)` sends; empty between writes (its capacity
    /// is kept, so a lone reply allocates nothing).
    pending: Vec<u8>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("queued_bytes", &self.shared.queue.lock().len())
            .finish()
    }
}

impl Outbox {
    /// An outbox writing `{packet,4}` packets to `out`.
    pub fn new(out: impl Write + Send + 'static) -> Outbox {
        Outbox {
            shared: Arc::new(Shared {
                queue: Mutex::new(Vec::new()),
                out: Mutex::new(Writer {
                    sink: Box::new(out),
                    pending: Vec::with_capacity(64 * 1024),
                }),
                broken: AtomicBool::new(false),
            }),
        }
    }

    /// Sends `frame` to the host. Once the output is broken (the host is
    /// gone, and the program is ending) frames are dropped.
    pub fn push(&self, frame: &Frame) {
        let s = &self.shared;
        if let Some(mut out) = s.out.try_lock() {
            // Nobody writing: encode straight into the output buffer, after
            // whatever others queued before (their frames go first).
            let out = &mut *out;
            std::mem::swap(&mut *s.queue.lock(), &mut out.pending);
            if out.pending.capacity() == 0 {
                out.pending.reserve(64 * 1024);
            }
            append_packet(&mut out.pending, frame);
            self.write_pending(out);
        } else {
            // Another thread is writing: encode here, in parallel, and queue;
            // the writer picks it up (it looks at the queue again after
            // letting go of the output).
            let mut packet = Vec::with_capacity(256);
            append_packet(&mut packet, frame);
            s.queue.lock().extend_from_slice(&packet);
        }
        self.write_queued();
    }

    /// Writes `out.pending` in one `write(2)` (unless the output broke).
    fn write_pending(&self, out: &mut Writer) {
        let s = &self.shared;
        if !out.pending.is_empty() && !s.broken.load(Ordering::Relaxed) {
            if let Err(e) = out
                .sink
                .write_all(&out.pending)
                .and_then(|()| out.sink.flush())
            {
                s.broken.store(true, Ordering::Relaxed);
                tracing::debug!(error = %e, "writing to the host failed; output closed");
            }
        }
        out.pending.clear();
        if out.pending.capacity() > MAX_KEPT {
            // A huge frame went out: do not keep its buffer.
            out.pending = Vec::new();
        }
    }

    /// Writes what is queued unless another thread is already writing (it
    /// will pick our packets up: it looks at the queue again after letting
    /// go of the output).
    fn write_queued(&self) {
        let s = &self.shared;
        while !s.queue.lock().is_empty() {
            let Some(mut out) = s.out.try_lock() else {
                return;
            };
            let out = &mut *out;
            std::mem::swap(&mut *s.queue.lock(), &mut out.pending);
            self.write_pending(out);
        }
    }
}

/// Appends `frame` to `buf` as one `{packet,4}` packet. A frame over 4 GiB
/// cannot be framed: it is dropped (logged).
fn append_packet(buf: &mut Vec<u8>, frame: &Frame) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    frame.encode_into(buf);
    let Ok(len) = u32::try_from(buf.len() - start - 4) else {
        tracing::error!(
            bytes = buf.len() - start,
            "frame over 4 GiB cannot be sent; dropped"
        );
        buf.truncate(start);
        return;
    };
    buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

/// The runtime's [`Transport`] to the host: every signal for a pid of the
/// host's VM becomes a frame.
#[derive(Debug)]
pub struct PortTransport {
    outbox: Outbox,
}

impl PortTransport {
    /// A transport writing to `outbox`.
    pub fn new(outbox: Outbox) -> PortTransport {
        PortTransport { outbox }
    }
}

impl Transport for PortTransport {
    fn deliver(&self, signal: Signal) {
        self.outbox.push(&signal_to_frame(signal));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dist::control::ControlMessage;
    use etf::{Atom, Pid, Term};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn frames_pushed_from_many_threads_all_arrive_whole() {
        let sink = Sink::default();
        let outbox = Outbox::new(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let outbox = outbox.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        let to = Pid {
                            node: Atom::new("vm@h"),
                            id: t,
                            serial: 0,
                            creation: 1,
                        };
                        outbox.push(&Frame::new(ControlMessage::Send { to }, Some(Term::Int(i))));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let wire = sink.0.lock().clone();
        let mut r = &wire[..];
        let mut last = [-1i64; 4];
        let mut n = 0;
        while let Some(p) = crate::packet::read_packet(&mut r, 1 << 20).unwrap() {
            let f = Frame::decode(p.into()).unwrap();
            let ControlMessage::Send { to } = f.control else {
                panic!("not a send")
            };
            let Some(Term::Int(i)) = f.payload else {
                panic!("no payload")
            };
            // Frames from one sender stay in order.
            assert_eq!(i, last[to.id as usize] + 1);
            last[to.id as usize] = i;
            n += 1;
        }
        assert_eq!(n, 2000);
    }
}
