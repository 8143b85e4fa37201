//! Busy-waiting for the peer's next packet before sleeping, while it pays.
//!
//! A reader (a port program's, a connection's) that sleeps after each
//! reply is woken for the next request; when its CPU went idle meanwhile,
//! that wake-up resumes a halted CPU, which on a virtual machine costs
//! tens of µs, more than the whole call. Asking for a moment whether input
//! is waiting (`poll(2)` with no timeout, yielding the CPU in between to
//! any thread that wants it) keeps the CPU awake across the gap between a
//! reply and the next request. The BEAM's schedulers do the same before
//! they sleep (`+sbwt`).
//!
//! Spinning takes a CPU others may need, so it adapts: a spin during
//! which the thread was preempted (something else wanted the CPU), or
//! [`MISSES`] spins in a row that ended without input, turn it off; after
//! [`PROBE_EVERY`] waits (longer after each preemption, up to
//! [`PROBE_MAX`]) it goes on again for another trial (the gain shows only
//! in a run of spins: one spin after a sleep finds the host's side asleep
//! too).
//!
//! | Erlang (`erl` flags)                     | Rust                                  |
//! |------------------------------------------|---------------------------------------|
//! | `+sbwt short`, `+sbwt none`              | `BusyWait::new(Duration::from_micros(50))`, `BusyWait::new(Duration::ZERO)` |

use std::time::{Duration, Instant};

/// While spinning is off, it goes on again after this many waits at
/// first; each trial cut short by a preemption doubles the interval, up
/// to [`PROBE_MAX`], and a spin that catches input unpreempted resets it.
pub const PROBE_EVERY: u32 = 256;

/// The longest interval between trials (a CPU busy with other work).
pub const PROBE_MAX: u32 = 1 << 16;

/// Spins in a row that end without input before spinning goes off.
pub const MISSES: u32 = 8;

/// The busy-wait state of one reader (see the module docs).
#[derive(Debug)]
pub struct BusyWait {
    max: Duration,
    on: bool,
    since_probe: u32,
    probe_every: u32,
    misses: u32,
}

impl BusyWait {
    /// Spins for up to `max` before each sleep while that pays; `max` zero
    /// never spins.
    pub fn new(max: Duration) -> BusyWait {
        BusyWait {
            max,
            on: true,
            since_probe: 0,
            probe_every: PROBE_EVERY,
            misses: 0,
        }
    }

    /// Whether the next wait spins.
    pub fn is_on(&self) -> bool {
        self.on && !self.max.is_zero()
    }

    /// Before a blocking read: spins until `ready()` says input is
    /// waiting or `max` has passed, if spinning pays (or it is time to
    /// try again). `true` when the spin found input waiting; `false` when
    /// it ran out, or did not spin (then `ready` is not asked at all).
    pub fn wait(&mut self, mut ready: impl FnMut() -> bool) -> bool {
        if self.max.is_zero() {
            return false;
        }
        if !self.on {
            self.since_probe += 1;
            if self.since_probe < self.probe_every {
                return false;
            }
            self.since_probe = 0;
            self.misses = 0;
            self.on = true;
        }
        let preempted_before = involuntary_switches();
        let started = Instant::now();
        let caught = loop {
            if ready() {
                break true;
            }
            if started.elapsed() >= self.max {
                break false;
            }
            // A thread waiting for this CPU gets it at once.
            std::thread::yield_now();
        };
        let preempted = involuntary_switches() != preempted_before;
        self.record(caught, preempted);
        caught
    }

    /// Learns from one spin: off after a preemption or after
    /// [`MISSES`] misses in a row.
    fn record(&mut self, caught: bool, preempted: bool) {
        self.misses = if caught { 0 } else { self.misses + 1 };
        if preempted {
            self.probe_every = (self.probe_every * 2).min(PROBE_MAX);
        } else if caught {
            self.probe_every = PROBE_EVERY;
        }
        if preempted || self.misses >= MISSES {
            self.on = false;
            self.since_probe = 0;
        }
    }
}

/// Whether input is waiting on `fd` (`poll(2)` with no timeout): what a
/// reader asks while it busy-waits.
pub fn readable(fd: &impl std::os::fd::AsRawFd) -> bool {
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no timeout.
    unsafe { libc::poll(&mut poll, 1, 0) != 0 }
}

/// This thread's involuntary context switches so far (0 if unknown).
fn involuntary_switches() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the memory we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: getrusage succeeded, so it filled the struct (and zeroed
    // memory is a valid rusage anyway).
    unsafe { usage.assume_init() }.ru_nivcsw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_never_spins() {
        let mut b = BusyWait::new(Duration::ZERO);
        let mut asked = 0;
        b.wait(|| {
            asked += 1;
            false
        });
        assert_eq!(asked, 0);
        assert!(!b.is_on());
    }

    #[test]
    fn a_spin_asks_until_input_is_there() {
        let mut b = BusyWait::new(Duration::from_secs(5));
        let mut asked = 0;
        let caught = b.wait(|| {
            asked += 1;
            asked == 3
        });
        assert!(caught);
        assert_eq!(asked, 3);
    }

    #[test]
    fn misses_in_a_row_turn_it_off_until_the_next_trial() {
        let mut b = BusyWait::new(Duration::from_micros(100));
        for _ in 0..MISSES - 1 {
            b.record(false, false);
        }
        assert!(b.is_on(), "a few misses are tolerated");
        b.record(true, false);
        for _ in 0..MISSES - 1 {
            b.record(false, false);
        }
        assert!(b.is_on(), "a catch resets the count");
        b.record(false, false);
        assert!(!b.is_on());
        // Off: the next waits do not ask at all...
        let mut asked = 0;
        for _ in 0..PROBE_EVERY - 1 {
            b.wait(|| {
                asked += 1;
                true
            });
        }
        assert_eq!(asked, 0);
        // ...until the trial, which spins again.
        b.wait(|| {
            asked += 1;
            true
        });
        assert_eq!(asked, 1);
    }

    #[test]
    fn a_preempted_spin_turns_it_off_even_when_it_caught_input() {
        let mut b = BusyWait::new(Duration::from_micros(200));
        b.record(true, true);
        assert!(!b.is_on());
        assert_eq!(b.probe_every, 2 * PROBE_EVERY, "trials get rarer");
        for _ in 0..20 {
            b.record(false, true);
        }
        assert_eq!(b.probe_every, PROBE_MAX);
        b.record(true, false);
        assert_eq!(b.probe_every, PROBE_EVERY, "a clean catch resets it");
    }
}
