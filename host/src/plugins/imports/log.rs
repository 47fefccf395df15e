//! `tend:plugin/log`: a plugin's levelled lines, into the daemon's log under target `plugin` with
//! field `plugin`. Bounded per call in count and length, so a plugin cannot flood the log.

use crate::plugins::bindings::host::tend::plugin::log;
use crate::plugins::bindings::host::tend::plugin::types::Level;
use crate::plugins::sandbox::CallState;

const MAX_LINES_PER_CALL: u32 = 1000;
const MAX_LEN: usize = 4096;

impl log::Host for CallState {
    async fn log(&mut self, level: Level, mut message: String) {
        self.log_lines += 1;
        let plugin = &*self.ctx.plugin;
        if self.log_lines > MAX_LINES_PER_CALL {
            if self.log_lines == MAX_LINES_PER_CALL + 1 {
                tracing::warn!(target: "plugin", plugin, "more than {MAX_LINES_PER_CALL} log lines in one call; dropping the rest");
            }
            return;
        }
        if message.len() > MAX_LEN {
            let mut end = MAX_LEN;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        match level {
            Level::Trace => tracing::trace!(target: "plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "plugin", plugin, "{message}"),
        }
    }
}
