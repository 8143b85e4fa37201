//! The outbox: frames leaving the port program for the host, and the
//! [`Transport`] that feeds it.
//!
//! A process that sends to the host encodes the frame itself (in
//! parallel with other processes), queues it, and then, if no other
//! process is writing, writes everything queued to stdout and flushes: a
//! burst of frames costs one `write(2)`, and a lone reply is written at
//! once, without waking another thread. This is flat combining: whoever
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

use std::collections::VecDeque;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferrotp::{Signal, Transport};
use parking_lot::Mutex;

use crate::frame::Frame;
use crate::signals::signal_to_frame;

/// Queues frames for the host and writes them; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<VecDeque<Vec<u8>>>,
    out: Mutex<BufWriter<Box<dyn Write + Send>>>,
    broken: AtomicBool,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("queued", &self.shared.queue.lock().len())
            .finish()
    }
}

impl Outbox {
    /// An outbox writing `{packet,4}` packets to `out`.
    pub fn new(out: impl Write + Send + 'static) -> Outbox {
        let out: Box<dyn Write + Send> = Box::new(out);
        Outbox {
            shared: Arc::new(Shared {
                queue: Mutex::new(VecDeque::new()),
                out: Mutex::new(BufWriter::with_capacity(64 * 1024, out)),
                broken: AtomicBool::new(false),
            }),
        }
    }

    /// Sends `frame` to the host. Once the output is broken (the host is
    /// gone, and the program is ending) frames are dropped.
    pub fn push(&self, frame: &Frame) {
        let mut packet = Vec::with_capacity(64);
        packet.extend_from_slice(&[0; 4]);
        frame.encode_into(&mut packet);
        let Ok(len) = u32::try_from(packet.len() - 4) else {
            tracing::error!(
                bytes = packet.len(),
                "frame over 4 GiB cannot be sent; dropped"
            );
            return;
        };
        packet[..4].copy_from_slice(&len.to_be_bytes());
        self.shared.queue.lock().push_back(packet);
        self.write_queued();
    }

    /// Writes what is queued unless another thread is already writing (it
    /// will pick our packets up: it looks at the queue again after letting
    /// go of the output).
    fn write_queued(&self) {
        let s = &self.shared;
        loop {
            let Some(mut out) = s.out.try_lock() else {
                return;
            };
            loop {
                let batch = std::mem::take(&mut *s.queue.lock());
                if batch.is_empty() {
                    break;
                }
                if s.broken.load(Ordering::Relaxed) {
                    continue;
                }
                for packet in batch {
                    if let Err(e) = out.write_all(&packet) {
                        s.broken.store(true, Ordering::Relaxed);
                        tracing::debug!(error = %e, "writing to the host failed; output closed");
                        break;
                    }
                }
            }
            if !s.broken.load(Ordering::Relaxed) {
                if let Err(e) = out.flush() {
                    s.broken.store(true, Ordering::Relaxed);
                    tracing::debug!(error = %e, "writing to the host failed; output closed");
                }
            }
            drop(out);
            if s.queue.lock().is_empty() {
                return;
            }
        }
    }
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
