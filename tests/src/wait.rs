//! Polling with a deadline: the only way tests wait for something to happen.

use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(10);

/// Polls `cond` until it holds. The error says what was awaited and for how long.
pub fn wait_until(
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) -> Result<(), String> {
    wait_for(timeout, || {
        if cond() {
            Ok(())
        } else {
            Err(what.to_string())
        }
    })
}

/// Polls `probe` until it yields a value. On timeout the error carries the last `Err` the probe gave,
/// which should describe what it saw (the state of a service, the lines so far, ...).
pub fn wait_for<T>(
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(v) => return Ok(v),
            Err(last) if start.elapsed() >= timeout => {
                return Err(format!("not reached within {timeout:?}; last seen: {last}"));
            }
            // tidy:allow-sleep: the poll interval of the one waiting helper every test uses
            Err(_) => std::thread::sleep(INTERVAL),
        }
    }
}
