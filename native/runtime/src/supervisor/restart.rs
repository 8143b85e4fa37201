//! Restart intensity: the supervisor's circuit breaker.
//!
//! OTP keeps the times (whole seconds of monotonic time) of the restarts
//! made within the last `period` seconds. Each restart adds `Now` and drops
//! the times older than `Now - period`; if more than `intensity` remain,
//! the supervisor gives up: it terminates all its children and exits with
//! reason `shutdown` (`add_restart/1` in supervisor.erl).
//!
//! ```
//! use ferrotp::supervisor::restart::Intensity;
//! let mut i = Intensity::new(3, 10);
//! assert!(i.add_at(100)); // 1 restart in the last 10 s
//! assert!(i.add_at(101));
//! assert!(i.add_at(105));
//! assert!(!i.add_at(109)); // a 4th within 10 s: too many
//! let mut j = Intensity::new(1, 5);
//! assert!(j.add_at(0));
//! assert!(j.add_at(6)); // the first is older than 5 s: forgotten
//! ```

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::Instant;

/// Seconds of monotonic time (`erlang:monotonic_time(1)`), from an
/// arbitrary process-wide origin.
pub fn now_secs() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_secs()
}

/// The restarts within the period.
#[derive(Clone, Debug)]
pub struct Intensity {
    intensity: u32,
    period: u32,
    /// Newest first, as OTP's list.
    restarts: VecDeque<u64>,
}

impl Intensity {
    /// At most `intensity` restarts in `period` seconds.
    pub fn new(intensity: u32, period: u32) -> Intensity {
        Intensity {
            intensity,
            period,
            restarts: VecDeque::new(),
        }
    }

    /// Records a restart now; `false` when that is one too many.
    pub fn add(&mut self) -> bool {
        self.add_at(now_secs())
    }

    /// Records a restart at `now` (seconds); `false` when that is one too many.
    pub fn add_at(&mut self, now: u64) -> bool {
        let threshold = now.saturating_sub(self.period.into());
        // OTP keeps R >= Now - Period: with `now < period` nothing is old.
        let keep_all = now < u64::from(self.period);
        let kept = self
            .restarts
            .iter()
            .take_while(|r| keep_all || **r >= threshold)
            .count();
        self.restarts.truncate(kept);
        self.restarts.push_front(now);
        self.restarts.len() <= self.intensity as usize
    }

    /// The recorded restart times, newest first.
    pub fn restarts(&self) -> impl Iterator<Item = u64> + '_ {
        self.restarts.iter().copied()
    }
}
