//! One command run on someone's behalf: a service's run (the supervisor's actor), a cron execution, a
//! custom-restart job's command, and later an agent's. The skeleton is the same for all of them: argv,
//! environment and `TEND_INSTANCE` marker started through `spawn` (a session of its own); the output
//! pipes handed to a sink (`Output`); a wait for the leader's exit, a timeout or a stop request; the
//! stop of the whole tree (`Stopping`: a signal, SIGKILL (`cgroup.kill`) after the grace, done when
//! nothing of it is left, then its cgroup removed); and an end record (`Finished`: the leader's exit and rusage, whether SIGKILL was needed,
//! what the sink kept). What differs between callers is a parameter.
//!
//! A caller with a loop of its own (the service actor also wakes on commands, timers and probes) uses
//! the parts: `exited` inside its `select!`, `end` once the run is over. Knows nothing of services,
//! jobs or the store; the sinks know nothing of processes beyond the pipe ends they are handed.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::oneshot;

use super::{Ended, Exit, SpawnSpec, Tree, spawn};

/// Where a run's stdout and stderr go: the service log pipeline, a cron execution's capture, a job
/// command's tail.
pub trait Output: Send + 'static {
    /// What the sink hands over once the run is over.
    type Kept: Send + 'static;

    /// Waits up to `within` for both pipes to close (a process that escaped the tree could hold them
    /// open), then hands over what was kept.
    fn finish(self, within: Duration) -> impl Future<Output = Self::Kept> + Send;
}

/// How a run's tree is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stopping {
    /// Sent first, to the process group and to every member.
    pub signal: Signal,
    /// Between `signal` and SIGKILL.
    pub grace: Duration,
    /// How long output may keep arriving once the tree is gone.
    pub output_grace: Duration,
}

/// Why `Run::wait` stopped waiting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending<R> {
    /// The leader exited on its own (whatever it left running was stopped).
    Exited,
    /// The timeout passed; the tree was stopped.
    TimedOut,
    /// The stop request resolved with this; the tree was stopped.
    Stopped(R),
}

/// The end record of a run.
#[derive(Debug)]
pub struct Finished<K> {
    pub pid: u32,
    /// The leader's exit and rusage (its own and that of the descendants it waited for); `None` if
    /// its status was lost.
    pub ended: Option<Ended>,
    /// Whether SIGKILL was needed, for the leader or for what it left behind.
    pub killed: bool,
    /// What the sink kept.
    pub output: K,
    /// From the spawn to the end of the output.
    pub elapsed: Duration,
}

impl<K> Finished<K> {
    pub fn exit(&self) -> Option<Exit> {
        self.ended.map(|e| e.exit)
    }
}

/// A started command: its tree, its pending exit and its output sink.
pub struct Run<O> {
    tree: Arc<Tree>,
    /// The leader's exit until it is reaped; then `ended` holds it.
    exit: Option<oneshot::Receiver<Ended>>,
    ended: Option<Ended>,
    output: O,
    stopping: Stopping,
    started: Instant,
}

impl<O: Output> Run<O> {
    /// Starts `spec` (see `spawn`) and hands its pipes to `sink`. The error is the spawn's.
    pub fn start(
        spec: &SpawnSpec,
        stopping: Stopping,
        sink: impl FnOnce(OwnedFd, OwnedFd) -> O,
    ) -> io::Result<Run<O>> {
        let child = spawn(spec)?;
        let started = Instant::now();
        let tree = Arc::new(Tree::with_cgroup(
            child.pid,
            child.start_ticks,
            spec.instance.clone(),
            child.cgroup,
        ));
        Ok(Run {
            tree,
            exit: Some(child.exit),
            ended: None,
            output: sink(child.stdout, child.stderr),
            stopping,
            started,
        })
    }

    pub fn pid(&self) -> u32 {
        self.tree.leader
    }

    /// The process tree, for samplers and for the records that find it again after a crash.
    pub fn tree(&self) -> &Arc<Tree> {
        &self.tree
    }

    /// Replaces how the tree will be stopped (a service's definition changed while it runs: the new
    /// stop signal and timeout apply to the run being stopped, as they always did).
    pub fn set_stopping(&mut self, stopping: Stopping) {
        self.stopping = stopping;
    }

    /// Resolves with the leader's exit once it is reaped (`None`: its status was lost), at once if it
    /// was already. Cancel-safe, so it can be one branch of a caller's `select!`.
    pub async fn exited(&mut self) -> Option<Exit> {
        if let Some(rx) = self.exit.as_mut() {
            self.ended = rx.await.ok();
            self.exit = None;
        }
        self.ended.map(|e| e.exit)
    }

    /// Waits for the leader's exit, `timeout` or `stop` (whichever comes first), then ends the run
    /// (`end`).
    pub async fn wait<R>(
        mut self,
        timeout: Duration,
        stop: impl Future<Output = R>,
    ) -> (Ending<R>, Finished<O::Kept>) {
        let ending = tokio::select! {
            _ = self.exited() => Ending::Exited,
            _ = tokio::time::sleep(timeout) => Ending::TimedOut,
            reason = stop => Ending::Stopped(reason),
        };
        (ending, self.end().await)
    }

    /// Stops what is left of the tree (the leader too, if it still runs), waits for the output, and
    /// returns the end record. Nothing of the tree outlives this, whatever the way out.
    pub async fn end(mut self) -> Finished<O::Kept> {
        let Stopping {
            signal,
            grace,
            output_grace,
        } = self.stopping;
        let killed = match self.exit.take() {
            Some(exit) => {
                let (ended, killed) = self.tree.stop(signal, Some(exit), grace).await;
                self.ended = ended;
                killed
            }
            // The leader is gone; whatever it left running must not outlive the run.
            None if self.tree.occupied() => {
                self.tree
                    .drain(signal, BTreeSet::new(), Instant::now() + grace)
                    .await
            }
            None => false,
        };
        self.tree.release();
        let output = self.output.finish(output_grace).await;
        Finished {
            pid: self.tree.leader,
            ended: self.ended,
            killed,
            output,
            elapsed: self.started.elapsed(),
        }
    }
}
