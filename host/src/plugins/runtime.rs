//! The tokio runtime guest code runs on, apart from the daemon's own: a plugin that hogs its
//! threads between epoch yields slows other plugin calls, never the supervisor or the API.

use std::sync::Mutex;

use anyhow::Context;
use tokio::runtime::{Handle, Runtime};

/// Worker threads of the plugin runtime.
const PLUGIN_THREADS: usize = 2;

/// The runtime guest code runs on. Shut down in the background when dropped, which is allowed from
/// within another runtime (a plain drop is not).
pub struct PluginRuntime {
    pub handle: Handle,
    runtime: Mutex<Option<Runtime>>,
}

impl PluginRuntime {
    pub fn new() -> anyhow::Result<PluginRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(PLUGIN_THREADS)
            .thread_name("tend-plugin")
            .enable_all()
            .build()
            .context("cannot start the plugin runtime")?;
        Ok(PluginRuntime {
            handle: runtime.handle().clone(),
            runtime: Mutex::new(Some(runtime)),
        })
    }

    pub fn shutdown(&self) {
        if let Some(rt) = self
            .runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            rt.shutdown_background();
        }
    }
}

impl Drop for PluginRuntime {
    fn drop(&mut self) {
        self.shutdown();
    }
}
