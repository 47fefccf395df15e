//! The one `wasmtime::Engine` (component model, epoch interruption) and the single epoch ticker:
//! a thread that bumps the engine's epoch every `TICK`. Per-call deadlines are counted in ticks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Stops the ticker thread when dropped or when `stop` is called.
pub struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    pub fn start(engine: Engine) -> anyhow::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("tend-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .context("cannot start the epoch ticker thread")?;
        Ok(Ticker { stop })
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}
