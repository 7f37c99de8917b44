//! A broadcast wake-up for many long-lived waiters that must see every signal but are
//! woken far more often by other things: each open stream watches the gateway's view
//! (a catalog change may take its right away) and the gateway's stop.
//!
//! A [`Watcher`] registers its task's waker once and checks for a signal with one atomic
//! load per poll; it takes the beacon's lock only to register, when its waker changes
//! and when it is dropped. (A `tokio::sync::watch` receiver's `changed()` future adds
//! itself to the channel's waiter list and takes itself off again on every poll that
//! ends in `Pending`: two lock round trips per stream per event, on a lock every stream
//! shares.)
//!
//! Signalling bumps an epoch, then wakes every registered waker under the lock, so a
//! watcher that registers while a signal is sent either is woken or sees the new epoch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// Wakes every [`Watcher`] of it on [`Beacon::signal`]. Shared by `Arc`.
#[derive(Debug, Default)]
pub struct Beacon {
    /// Signals so far.
    epoch: AtomicU64,
    wakers: Mutex<Slots>,
}

/// The registered wakers, in slots reused through a free list.
#[derive(Debug, Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Beacon {
    /// A beacon with no watchers, shared.
    pub fn new() -> Arc<Beacon> {
        Arc::default()
    }

    /// Wakes every watcher; each sees the signal at its next poll (signals sent before
    /// a watcher polls again count as one).
    pub fn signal(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let slots = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        for waker in slots.wakers.iter().flatten() {
            waker.wake_by_ref();
        }
    }

    /// A watcher that sees the signals sent from now on.
    pub fn watch(self: &Arc<Self>) -> Watcher {
        Watcher {
            seen: self.epoch.load(Ordering::SeqCst),
            beacon: self.clone(),
            slot: None,
        }
    }

    /// How many watchers have a waker registered.
    #[cfg(test)]
    fn registered(&self) -> usize {
        let slots = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        slots.wakers.len() - slots.free.len()
    }
}

/// One waiter on a [`Beacon`]. Dropping it unregisters its waker.
#[derive(Debug)]
pub struct Watcher {
    beacon: Arc<Beacon>,
    /// The epoch last seen.
    seen: u64,
    /// The slot and the waker registered in it.
    slot: Option<(usize, Waker)>,
}

impl Watcher {
    /// Ready once per batch of signals sent since the last `Ready` (or since the watcher
    /// was made); `Pending` otherwise, with `cx`'s waker registered to be woken by the
    /// next signal.
    pub fn poll_signalled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.slot {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            slot => {
                let mut slots = self
                    .beacon
                    .wakers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let index = match slot {
                    Some((index, _)) => *index,
                    None => match slots.free.pop() {
                        Some(index) => index,
                        None => {
                            slots.wakers.push(None);
                            slots.wakers.len() - 1
                        }
                    },
                };
                if let Some(entry) = slots.wakers.get_mut(index) {
                    *entry = Some(cx.waker().clone());
                }
                *slot = Some((index, cx.waker().clone()));
            }
        }
        // After registering: a signal sent since is either seen here or wakes the waker.
        let epoch = self.beacon.epoch.load(Ordering::SeqCst);
        if epoch == self.seen {
            return Poll::Pending;
        }
        self.seen = epoch;
        Poll::Ready(())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if let Some((index, _)) = self.slot.take() {
            let mut slots = self
                .beacon
                .wakers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = slots.wakers.get_mut(index) {
                *entry = None;
                slots.free.push(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_signal_wakes_every_watcher_once() {
        let beacon = Beacon::new();
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let mut watcher = beacon.watch();
            tasks.push(tokio::spawn(async move {
                std::future::poll_fn(|cx| watcher.poll_signalled(cx)).await;
            }));
        }
        // Each task registers before the signal is sent.
        while beacon.registered() < 3 {
            tokio::task::yield_now().await;
        }
        beacon.signal();
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("woken")
                .expect("joined");
        }
        // The watchers are gone, and so are their registrations.
        assert_eq!(beacon.registered(), 0);
    }

    #[tokio::test]
    async fn signals_before_a_poll_are_seen_and_count_once() {
        let beacon = Beacon::new();
        let mut watcher = beacon.watch();
        beacon.signal();
        beacon.signal();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert_eq!(watcher.poll_signalled(&mut cx), Poll::Ready(()));
        assert_eq!(watcher.poll_signalled(&mut cx), Poll::Pending);
        beacon.signal();
        assert_eq!(watcher.poll_signalled(&mut cx), Poll::Ready(()));
    }

    #[tokio::test]
    async fn a_watcher_made_after_a_signal_does_not_see_it_and_slots_are_reused() {
        let beacon = Beacon::new();
        beacon.signal();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut first = beacon.watch();
        assert_eq!(first.poll_signalled(&mut cx), Poll::Pending);
        drop(first);
        let mut second = beacon.watch();
        assert_eq!(second.poll_signalled(&mut cx), Poll::Pending);
        assert_eq!(beacon.registered(), 1);
        assert_eq!(beacon.wakers.lock().map(|s| s.wakers.len()).unwrap_or(0), 1);
    }
}
