//! Log lines in the daemon's log, tagged with the plugin's name.

pub use crate::Level;
use crate::bindings::tend::plugin::log::log;

pub fn write(level: Level, message: &str) {
    log(level, message);
}

pub fn trace(message: &str) {
    log(Level::Trace, message);
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}
