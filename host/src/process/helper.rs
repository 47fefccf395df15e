//! Short-lived helper processes of the daemon itself (today: `tend __compile-plugin`, so
//! Cranelift's memory is never the daemon's). Spawned like every run (`spawn`: own session, own
//! cgroup where cgroups contain runs) and reaped by the one reaper; not a service, no log capture.

use std::io::{self, Read};

use super::{Exit, SpawnSpec, spawn};

/// Runs `argv` to its end; returns how it ended and what it wrote on stderr (stdout is discarded).
pub async fn run_helper(argv: Vec<String>, kind: &str) -> io::Result<(Exit, String)> {
    let spec = SpawnSpec {
        argv,
        cwd: None,
        env: Default::default(),
        instance: format!(
            "{kind}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ),
    };
    let child = spawn(&spec)?;
    let (stdout, stderr) = (child.stdout, child.stderr);
    // Both drained at once, so a chatty child never blocks on a full pipe.
    let drain = tokio::task::spawn_blocking(move || {
        let _ = io::copy(&mut std::fs::File::from(stdout), &mut io::sink());
    });
    let read = tokio::task::spawn_blocking(move || {
        let mut text = Vec::new();
        let _ = std::fs::File::from(stderr).read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let ended = child
        .exit
        .await
        .map_err(|_| io::Error::other("the reaper is not running"))?;
    let text = read.await.unwrap_or_default();
    let _ = drain.await;
    if let Some(g) = &child.cgroup {
        g.remove();
    }
    Ok((ended.exit, text))
}
