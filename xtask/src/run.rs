//! `cargo xtask run [-- ARGS]`: builds the dashboard (`frontend/dist`, which `tend` embeds), then
//! `tend` in release mode, and replaces this process with `tend daemon ARGS`, so Ctrl-C and SIGTERM
//! reach the daemon directly. With no ARGS the daemon's own defaults apply (127.0.0.1:9900, the
//! default data dir).

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::Context;

use crate::build_release_tend;

pub fn main(args: &[String]) -> anyhow::Result<()> {
    // `cargo xtask run -- --port 1` and `cargo xtask run --port 1` both arrive here; drop the separator.
    let args = match args.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => args,
    };
    crate::plugins::build_for_run()?;
    crate::frontend::build()?;
    let tend = build_release_tend()?;
    let mut cmd = Command::new(&tend);
    cmd.arg("daemon").args(args);
    println!("==> {} daemon {}", tend.display(), args.join(" "));
    let err = cmd.exec();
    Err(err).with_context(|| format!("cannot exec {}", tend.display()))
}
