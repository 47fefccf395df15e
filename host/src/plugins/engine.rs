//! The one `wasmtime::Engine` (component model, epoch interruption) and the single epoch ticker:
//! a thread that bumps the engine's epoch every `TICK` while a guest call is in flight and sleeps
//! while none is. Per-call deadlines are counted in ticks.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Epoch period: the granularity of CPU deadlines and of yields of long-running guest code.
pub const TICK: Duration = Duration::from_millis(10);

/// Instances (and their memories and fiber stacks) kept ready for reuse: calls in flight at once.
pub const POOLED_CALLS: u32 = 256;

pub fn new_engine(max_memory_mb: u64) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Guest recursion fails with a stack-overflow trap long before it could hurt the host.
    config.max_wasm_stack(1 << 20);
    config.async_stack_size(2 << 20);
    // Every call instantiates afresh; the pooling allocator reuses memories, tables and fiber stacks
    // instead of mapping and unmapping them per call (which dominated the cost of a call).
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOLED_CALLS)
        .total_core_instances(POOLED_CALLS * 8)
        .total_memories(POOLED_CALLS * 4)
        .total_tables(POOLED_CALLS * 8)
        .total_stacks(POOLED_CALLS)
        .max_memory_size(usize::try_from(max_memory_mb << 20).unwrap_or(usize::MAX));
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("cannot set up the WebAssembly engine")
}

/// The epoch ticker: one thread that bumps the engine's epoch every `TICK` while guest code may run
/// (a `Busy` guard is held: every guarded call holds one), and sleeps on a condition variable
/// otherwise. An idle daemon then has no wake-up from it at all (it was 100 a second), and a call
/// pays one uncontended lock to announce itself. Deadlines are unchanged: a call's first tick comes
/// at most `TICK` after it started, as before, and every later one `TICK` apart. Stops when dropped.
pub struct Ticker {
    shared: Arc<TickShared>,
}

struct TickShared {
    state: Mutex<TickState>,
    wake: Condvar,
}

#[derive(Default)]
struct TickState {
    /// Guards alive: calls whose guest code may be running.
    busy: usize,
    stopped: bool,
    /// The thread waits for a call (true from its start until the first call).
    parked: bool,
    /// Epochs bumped so far.
    ticks: u64,
}

impl TickShared {
    fn state(&self) -> MutexGuard<'_, TickState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Keeps the ticker running while alive (see `Ticker::busy`).
pub struct Busy {
    shared: Arc<TickShared>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        // The thread notices at its next tick and parks then; nothing to wake.
        self.shared.state().busy -= 1;
    }
}

impl Ticker {
    pub fn start(engine: Engine) -> anyhow::Result<Ticker> {
        let shared = Arc::new(TickShared {
            state: Mutex::new(TickState::default()),
            wake: Condvar::new(),
        });
        let thread = shared.clone();
        std::thread::Builder::new()
            .name("tend-epoch".into())
            .spawn(move || tick(&thread, &engine))
            .context("cannot start the epoch ticker thread")?;
        Ok(Ticker { shared })
    }

    /// Ticks from now until the guard is dropped (with other guards: until the last is).
    pub fn busy(&self) -> Busy {
        let mut st = self.shared.state();
        st.busy += 1;
        if st.busy == 1 && st.parked {
            self.shared.wake.notify_one();
        }
        Busy {
            shared: self.shared.clone(),
        }
    }

    /// Whether the thread is waiting for a call (not ticking), and the epochs bumped so far.
    #[cfg(test)]
    pub fn parked(&self) -> (bool, u64) {
        let st = self.shared.state();
        (st.parked, st.ticks)
    }

    pub fn stop(&self) {
        self.shared.state().stopped = true;
        self.shared.wake.notify_one();
    }
}

fn tick(shared: &TickShared, engine: &Engine) {
    let mut st = shared.state();
    loop {
        if st.stopped {
            return;
        }
        if st.busy == 0 {
            st.parked = true;
            st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
            st.parked = false;
            continue;
        }
        drop(st);
        std::thread::sleep(TICK);
        engine.increment_epoch();
        st = shared.state();
        st.ticks += 1;
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}
