//! The per-call sandbox: a fresh `Store` whose data (`CallState`) holds an empty WASI context (no
//! preopens, sockets, env or args unless granted; stdout/stderr captured), a memory limiter that
//! remembers refusing growth, the call's grants and deadline, what an agent call (`fixer`,
//! `onboarder`) may see (its project root, its LLM purpose and default model, and the tally of its
//! `llm` calls), and the epoch callback that yields every tick and interrupts at the deadline. The
//! deadline is wall-clock only: a guest awaiting a host import (an `llm` completion) is not running,
//! so the epoch never fires for it, and it is cancelled only when the deadline passes. Nothing
//! survives a call except through `kv`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::grants::{EffectiveGrants, TargetAddr};
use super::output::Capture;

/// What every call shares: the daemon's store (for `kv`) and one HTTP client (for `http`).
pub struct Shared {
    pub store: crate::store::Store,
    pub http: reqwest::Client,
}

/// The facts of one call, fixed when it starts.
pub struct CallCtx {
    pub plugin: Arc<str>,
    pub grants: Arc<EffectiveGrants>,
    /// What `$target` stands for; `None` outside probe calls (e.g. the load-time self-test).
    pub target: Option<TargetAddr>,
    pub deadline: Instant,
    pub memory_mb: u64,
    pub max_response_bytes: u64,
    pub shared: Arc<Shared>,
    /// Set for agent calls (`fixer`, `onboarder`) only: `project` and `llm` answer `denied` /
    /// `not-configured` without it.
    pub agent: Option<AgentCtx>,
}

/// What an agent call may see beyond its grants: fixed when the call starts.
pub struct AgentCtx {
    /// The root of the `project` interface (the incident's working dir); `None`: every `project`
    /// call is denied.
    pub project: Option<crate::project::Project>,
    /// What the call's `llm` completions are recorded and budgeted as.
    pub purpose: crate::wire::Purpose,
    /// The model an `llm` request without one uses (the incident's `model`).
    pub default_model: Option<String>,
    /// The LLM gateway, when `[llm]` is configured.
    pub llm: Option<Arc<dyn super::agent::LlmGateway>>,
    /// Shared with the caller, so that the count survives a store dropped mid-call.
    pub tally: Arc<Mutex<LlmTally>>,
}

/// The `llm` completions of one call and the tokens they used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LlmTally {
    pub calls: u32,
    pub usage: crate::wire::Usage,
}

/// What a call leaves behind for classification and the log. Shared with the store, so it is still
/// readable when a timed-out call's store was dropped mid-flight.
#[derive(Clone, Default)]
pub struct Trace {
    pub denials: Arc<Mutex<Vec<String>>>,
    pub memory_refused: Arc<AtomicBool>,
    pub stdout: Capture,
    pub stderr: Capture,
}

impl Trace {
    pub fn denials(&self) -> Vec<String> {
        self.denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Writes the captured output to the daemon's log.
    pub fn emit_output(&self, plugin: &str) {
        self.stdout.emit(plugin, "stdout");
        self.stderr.emit(plugin, "stderr");
    }
}

/// The data of a call's `Store`.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: Limiter,
    pub ctx: CallCtx,
    pub trace: Trace,
    /// `log` lines written so far in this call (bounded, so a plugin cannot flood the log).
    pub log_lines: u32,
}

impl CallState {
    /// Records a refused capability; no connection or access was made.
    pub fn deny(&self, what: String) {
        tracing::warn!(target: "plugin", plugin = %self.ctx.plugin, "denied: {what}");
        self.trace
            .denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(what);
    }

    /// Time left before the call's deadline.
    pub fn remaining(&self) -> Duration {
        self.ctx.deadline.saturating_duration_since(Instant::now())
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `StoreLimits`, remembering whether it refused memory growth (to tell out-of-memory from other traps).
struct Limiter {
    limits: StoreLimits,
    refused: Arc<AtomicBool>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        if !ok {
            self.refused.store(true, Ordering::Relaxed);
        }
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.limits.table_growing(current, desired, maximum)?;
        if !ok {
            self.refused.store(true, Ordering::Relaxed);
        }
        Ok(ok)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// A fresh store for one call.
pub fn new_store(engine: &Engine, ctx: CallCtx) -> Store<CallState> {
    let trace = Trace::default();
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(trace.stdout.clone())
        .stderr(trace.stderr.clone());
    for name in &ctx.grants.env {
        if let Ok(value) = std::env::var(name) {
            wasi.env(name, value);
        }
    }
    for path in &ctx.grants.paths {
        if let Err(e) = wasi.preopened_dir(path, path.to_string_lossy(), FsPerms::ReadOnly) {
            tracing::warn!(target: "plugin", plugin = %ctx.plugin, path = %path.display(), error = %e, "cannot preopen granted path");
        }
    }
    // wasi:sockets is never granted (plugins use `http`/`net`): TCP and UDP stay disallowed (the
    // builder's default), so creating a socket already fails with `access-denied`; the address
    // check below is a second wall that records what got past the first.
    let denials = trace.denials.clone();
    wasi.socket_addr_check(move |addr, usage| {
        denials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("wasi:sockets {usage:?} {addr}"));
        Box::pin(async { false })
    });
    wasi.allow_ip_name_lookup(false);

    let limits = StoreLimitsBuilder::new()
        .memory_size(usize::try_from(ctx.memory_mb << 20).unwrap_or(usize::MAX))
        .trap_on_grow_failure(false)
        .build();
    let limiter = Limiter {
        limits,
        refused: trace.memory_refused.clone(),
    };
    let deadline = ctx.deadline;
    let state = CallState {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        limiter,
        ctx,
        trace,
        log_lines: 0,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if Instant::now() >= deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    store
}
