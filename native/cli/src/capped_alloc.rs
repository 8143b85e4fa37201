//! The binary's global allocator: mimalloc, with an optional cap on the
//! bytes it hands out (`ferrotp port --max-memory BYTES`).
//!
//! | Erlang                                              | here                          |
//! |-----------------------------------------------------|-------------------------------|
//! | `ferrotp_port:start_link(#{max_memory => Bytes})`   | [`cap`]`(bytes)` at start-up   |
//!
//! An address-space limit (`setrlimit(RLIMIT_AS)`) cannot cap a program
//! whose threads and allocators reserve several hundred megabytes of
//! address space before it runs anything: allocations inside those
//! reservations are never refused. This counts what the program asks for
//! instead. Over the cap an allocation fails, the program aborts
//! ("memory allocation of N bytes failed"), and the host sees it exit, as
//! for any other crash. Without a cap nothing is counted.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};

/// mimalloc, counting while a cap is set.
pub struct CappedAlloc {
    capped: AtomicBool,
    cap: AtomicUsize,
    /// Bytes handed out since the cap was set, less those given back (it
    /// may go below zero: blocks allocated before the cap are freed too).
    used: AtomicIsize,
}

impl CappedAlloc {
    /// No cap yet.
    pub const fn new() -> CappedAlloc {
        CappedAlloc {
            capped: AtomicBool::new(false),
            cap: AtomicUsize::new(usize::MAX),
            used: AtomicIsize::new(0),
        }
    }

    /// Whether `size` more bytes stay within the cap (and counts them).
    fn take(&self, size: usize) -> bool {
        if !self.capped.load(Ordering::Relaxed) {
            return true;
        }
        let size = isize::try_from(size).unwrap_or(isize::MAX);
        let before = self.used.fetch_add(size, Ordering::Relaxed);
        let cap = isize::try_from(self.cap.load(Ordering::Relaxed)).unwrap_or(isize::MAX);
        if before.saturating_add(size) > cap {
            self.used.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn give_back(&self, size: usize) {
        if self.capped.load(Ordering::Relaxed) {
            let size = isize::try_from(size).unwrap_or(isize::MAX);
            self.used.fetch_sub(size, Ordering::Relaxed);
        }
    }
}

impl Default for CappedAlloc {
    fn default() -> Self {
        CappedAlloc::new()
    }
}

// SAFETY: every call goes to mimalloc with the caller's layout; a refused
// allocation returns null, as `GlobalAlloc` allows.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as the caller's contract.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as the caller's contract.
        unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.give_back(layout.size());
        // SAFETY: as the caller's contract.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !self.take(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as the caller's contract.
        let out = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if out.is_null() {
            if new_size > old {
                self.give_back(new_size - old);
            }
        } else if new_size < old {
            self.give_back(old - new_size);
        }
        out
    }
}

/// Caps what the program may allocate from now on at `bytes`.
pub fn cap(bytes: u64) {
    crate::GLOBAL.cap.store(
        usize::try_from(bytes).unwrap_or(usize::MAX),
        Ordering::Relaxed,
    );
    crate::GLOBAL.capped.store(true, Ordering::Relaxed);
}
