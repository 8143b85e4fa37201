//! A spare allocation for boxed futures of one size: a future that
//! finished gives its memory back, the next one of the same layout is
//! written into it instead of a fresh `malloc` (and the `free` after it).
//!
//! A gen_server running direct calls ([`crate::direct`]) boxes each
//! call's callback future, in case it does not finish at once; nearly
//! every one does, so the same allocation serves call after call.
//!
//! | Rust, plain                       | with a spare                          |
//! |-----------------------------------|---------------------------------------|
//! | `Box::pin(fut)`                   | [`boxed`]`(spare.take(), fut)`        |
//! | `drop(finished)` (frees)          | [`Spare::reclaim`]`(finished)`        |

use std::alloc::Layout;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;

use crate::start::BoxFuture;

/// Memory left by a finished boxed future: allocated by the global
/// allocator with `layout`, holding no value.
pub(crate) struct Spare {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: a `Spare` is uninitialised memory owned by nothing else; moving
// it to another thread moves only that ownership.
unsafe impl Send for Spare {}

impl Spare {
    /// Drops a finished (or any) boxed future in place and keeps its
    /// memory; `None` for a zero-sized future (it has no memory).
    pub(crate) fn reclaim<T>(fut: BoxFuture<'static, T>) -> Option<Spare> {
        // SAFETY: the pointee is dropped in place below and never moved;
        // its memory is reused only after that drop, as `Pin` requires.
        let raw = Box::into_raw(unsafe { Pin::into_inner_unchecked(fut) });
        // SAFETY: `raw` comes from a live `Box`.
        let layout = Layout::for_value(unsafe { &*raw });
        // SAFETY: `raw` is valid and owned here; it is not used after
        // its drop except as memory.
        unsafe { std::ptr::drop_in_place(raw) };
        let ptr = NonNull::new(raw.cast::<u8>())?;
        if layout.size() == 0 {
            // A zero-sized `Box` owns no memory: nothing to keep or free.
            return None;
        }
        Some(Spare { ptr, layout })
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        // SAFETY: allocated by the global allocator with `layout`
        // (a `Box` of a value of that layout), not freed before.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// `Box::pin(fut)`, written into `spare` when its layout is `F`'s (the
/// spare is freed otherwise).
pub(crate) fn boxed<F, T>(spare: Option<Spare>, fut: F) -> BoxFuture<'static, T>
where
    F: Future<Output = T> + Send + 'static,
{
    match spare {
        Some(spare) if spare.layout == Layout::new::<F>() => {
            let ptr = spare.ptr.as_ptr().cast::<F>();
            std::mem::forget(spare);
            // SAFETY: `ptr` was allocated by the global allocator with
            // `Layout::new::<F>()` (what `Box<F>` uses) and holds no value;
            // the write initialises it and the `Box` takes it over.
            unsafe {
                ptr.write(fut);
                Box::into_pin(Box::from_raw(ptr))
            }
        }
        _ => Box::pin(fut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    struct CountsDrops(Arc<AtomicUsize>, [u64; 4]);

    impl Drop for CountsDrops {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn run<T>(mut fut: BoxFuture<'static, T>) -> (T, BoxFuture<'static, T>) {
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => (v, fut),
            Poll::Pending => panic!("the test futures finish at once"),
        }
    }

    fn future_owning(
        drops: &Arc<AtomicUsize>,
        n: u64,
    ) -> impl Future<Output = u64> + Send + 'static {
        let owned = CountsDrops(drops.clone(), [n; 4]);
        async move { owned.1.iter().sum::<u64>() }
    }

    #[test]
    fn a_reclaimed_allocation_serves_the_next_future_of_its_layout() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (sum, done) = run(boxed(None, future_owning(&drops, 1)));
        assert_eq!(sum, 4);
        let first = &*done as *const _ as *const u8;
        let spare = Spare::reclaim(done);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the future is dropped in place"
        );
        let next = boxed(spare, future_owning(&drops, 2));
        assert_eq!(&*next as *const _ as *const u8, first, "same memory");
        let (sum, done) = run(next);
        assert_eq!(sum, 8);
        drop(done);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_spare_of_another_layout_is_freed_and_the_future_boxed_afresh() {
        let drops = Arc::new(AtomicUsize::new(0));
        let (_, done) = run(boxed(None, future_owning(&drops, 1)));
        let spare = Spare::reclaim(done);
        let (v, done) = run(boxed(spare, async { [7u8; 100] }));
        assert_eq!(v, [7u8; 100]);
        assert!(Spare::reclaim(done).is_some());
        // A zero-sized future owns no memory.
        assert!(Spare::reclaim(boxed(None, std::future::pending::<()>())).is_none());
    }

    #[test]
    fn an_unfinished_future_is_dropped_when_reclaimed() {
        let drops = Arc::new(AtomicUsize::new(0));
        let owned = CountsDrops(drops.clone(), [0; 4]);
        let pending = boxed(None, async move {
            std::future::pending::<()>().await;
            drop(owned);
        });
        let mut pending = pending;
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pending.as_mut().poll(&mut cx).is_pending());
        assert!(Spare::reclaim(pending).is_some());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}
