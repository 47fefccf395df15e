//! Running guest code under guard: a fresh sandboxed store, executed on the plugin runtime (never
//! on the caller's), bounded by the call's deadline twice: inside, where the wall-clock timeout
//! drops the store mid-call (cancelling host I/O and WASI waits too), and outside, in case the
//! plugin runtime is too busy to poll it. The epoch callback (`sandbox`) interrupts CPU-bound guests;
//! the epoch ticker runs while the call's task exists (it holds a `Busy` guard).

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Handle;
use wasmtime::{Engine, Store, Trap};

use super::engine::Ticker;
use super::outcome::Failure;
use super::sandbox::{CallCtx, CallState, Trace, new_store};

/// Extra wall time the outer guard allows before abandoning a call that overran its deadline.
const GRACE: Duration = Duration::from_millis(250);
/// Longest error text kept from a trap.
const MAX_ERROR: usize = 1000;

/// Runs `body` on a fresh store for `ctx`; returns its result or how it failed, and the call's trace.
pub async fn guarded<R, F, Fut>(
    rt: &Handle,
    engine: &Engine,
    ticker: &Ticker,
    ctx: CallCtx,
    body: F,
) -> (Result<R, Failure>, Trace)
where
    F: FnOnce(Store<CallState>) -> Fut,
    Fut: Future<Output = wasmtime::Result<R>> + Send + 'static,
    R: Send + 'static,
{
    let deadline = tokio::time::Instant::from_std(ctx.deadline);
    let store = new_store(engine, ctx);
    let trace = store.data().trace.clone();
    let run = body(store);
    // Held by the task, not by this future: a call abandoned below keeps the epochs coming (so the
    // guest is still interrupted) until its task has really ended.
    let busy = ticker.busy();
    let task = rt.spawn(async move {
        let _busy = busy;
        tokio::time::timeout_at(deadline, run).await
    });
    let abort = task.abort_handle();
    let result = match tokio::time::timeout_at(deadline + GRACE, task).await {
        Ok(Ok(Ok(Ok(r)))) => Ok(r),
        Ok(Ok(Ok(Err(e)))) => Err(from_error(&e)),
        Ok(Ok(Err(_elapsed))) => Err(Failure {
            error: "wall-clock timeout".into(),
            interrupted: true,
            ..Failure::default()
        }),
        Ok(Err(join)) => Err(Failure {
            error: format!("the call was cancelled or crashed the host task: {join}"),
            ..Failure::default()
        }),
        Err(_) => {
            abort.abort();
            Err(Failure {
                error: "wall-clock timeout (plugin runtime overloaded)".into(),
                interrupted: true,
                ..Failure::default()
            })
        }
    };
    let result = result.map_err(|mut f| {
        f.memory_refused = trace
            .memory_refused
            .load(std::sync::atomic::Ordering::Relaxed);
        f.first_denial = trace.denials().into_iter().next();
        f
    });
    (result, trace)
}

fn from_error(e: &wasmtime::Error) -> Failure {
    let trap = e.downcast_ref::<Trap>();
    let mut error = match trap {
        Some(t) => format!("{t}"),
        None => format!("{e:#}"),
    };
    let frame = e
        .downcast_ref::<wasmtime::WasmBacktrace>()
        .and_then(|bt| bt.frames().first());
    if let Some(func) = frame.and_then(|f| f.func_name()) {
        error = format!("{error} (in {func})");
    }
    if error.len() > MAX_ERROR {
        let mut end = MAX_ERROR;
        while !error.is_char_boundary(end) {
            end -= 1;
        }
        error.truncate(end);
    }
    Failure {
        error,
        interrupted: matches!(trap, Some(Trap::Interrupt)),
        ..Failure::default()
    }
}
