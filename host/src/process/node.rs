//! Evaluating a PM2 `.config.js` for `tend import` (in the CLI's own process, never in the daemon,
//! whose reaper owns every child's exit status): `node -e` printing `JSON.stringify(require(path))`.
//! Node runs the file as PM2 would, so what it prints is what PM2 would have read.

use std::io::ErrorKind;
use std::path::Path;
use std::process::{Command, Stdio};

/// The JSON `module.exports` of `path` evaluates to; the error says what to do.
pub fn eval_js_config(path: &Path) -> Result<String, String> {
    let script = "process.stdout.write(JSON.stringify(require(process.argv[1])))";
    let output = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => format!(
                "{} is JavaScript and node is not installed to evaluate it: install node, or \
                 write the apps as JSON (ecosystem.json) and import that",
                path.display()
            ),
            _ => format!("cannot run node to evaluate {}: {e}", path.display()),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr
            .lines()
            .find(|l| l.contains("Error"))
            .unwrap_or_else(|| stderr.lines().next().unwrap_or("no message"));
        return Err(format!(
            "node could not evaluate {} ({}): {}",
            path.display(),
            output.status,
            first.trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| {
        format!(
            "node printed something that is not UTF-8 for {}",
            path.display()
        )
    })
}
