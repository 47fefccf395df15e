//! Tracking of chunks that readers have taken off a pipe but not yet handed to the database queue, so
//! `LogHub::flush` can wait for exactly the lines read before it was called, not for later ones (a
//! chatty service would otherwise keep a flush waiting forever).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

#[derive(Default)]
pub(super) struct Inflight {
    state: Mutex<State>,
    drained: Notify,
}

#[derive(Default)]
struct State {
    epoch: u64,
    /// Open tickets per epoch; epochs with none are removed.
    open: BTreeMap<u64, usize>,
}

/// Held by a reader from the moment it has a chunk until its lines are written and queued.
pub(super) struct Ticket {
    owner: Arc<Inflight>,
    epoch: u64,
}

impl Inflight {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn enter(self: &Arc<Self>) -> Ticket {
        let mut s = self.lock();
        let epoch = s.epoch;
        *s.open.entry(epoch).or_default() += 1;
        Ticket {
            owner: self.clone(),
            epoch,
        }
    }

    /// Resolves once every ticket taken before this call is dropped.
    pub(super) async fn wait_for_earlier(&self) {
        let target = {
            let mut s = self.lock();
            s.epoch += 1;
            s.epoch - 1
        };
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().open.range(..=target).next().is_none() {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = self.owner.lock();
        if let Some(n) = s.open.get_mut(&self.epoch) {
            *n -= 1;
            if *n == 0 {
                s.open.remove(&self.epoch);
                drop(s);
                self.owner.drained.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_earlier_tickets_only() {
        let inflight = Arc::new(Inflight::default());
        let early = inflight.enter();
        let waiter = {
            let inflight = inflight.clone();
            tokio::spawn(async move { inflight.wait_for_earlier().await })
        };
        // Let the waiter register its epoch before the late ticket is taken.
        while inflight.lock().epoch == 0 {
            tokio::task::yield_now().await;
        }
        let _late = inflight.enter();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(early);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("flush waited for a later ticket")
            .unwrap();
    }
}
