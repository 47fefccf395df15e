//! Looking at processes through `/proc`, and running short-lived programs with a deadline.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The state letter of `/proc/<pid>/stat` (`R`, `S`, `Z`, ...), or `None` when the pid does not exist.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces or parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.trim_start().chars().next()
}

/// True when `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    matches!(proc_state(pid), Some(s) if s != 'Z' && s != 'X')
}

/// The environment of a process as `KEY=VALUE` strings (empty when it cannot be read).
pub fn proc_environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The environment of a process tend started, once it has one: right after the spawn, until the
/// child has exec'd, `/proc/<pid>/environ` still shows the spawner's (without `TEND_INSTANCE`), so
/// this polls (up to 5 s) for the service's own environment.
pub fn service_environ(pid: u32) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let env = proc_environ(pid);
        if env.iter().any(|kv| kv.starts_with("TEND_INSTANCE="))
            || std::time::Instant::now() > deadline
        {
            return env;
        }
        std::thread::yield_now();
    }
}

/// Live (non-zombie) processes whose environment satisfies `pred`, excluding this test process.
pub fn processes_with_env(pred: impl Fn(&[String]) -> bool) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && pid_alive(pid))
        .filter(|&pid| pred(&proc_environ(pid)))
        .collect();
    pids.sort_unstable();
    pids
}

/// Live processes carrying `TEND_TEST_ID=<marker>`: the services a test created and their descendants.
pub fn processes_with_marker(marker: &str) -> Vec<u32> {
    let want = format!("{}={marker}", crate::MARKER_VAR);
    processes_with_env(|env| env.contains(&want))
}

/// Runs `cmd` to completion with piped output; kills it and panics when it outlives `timeout`.
pub fn run_with_deadline(mut cmd: Command, timeout: Duration) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown} did not finish within {timeout:?}");
        }
        // tidy:allow-sleep: poll interval of try_wait, bounded by the deadline above
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// The real python3 binary (not a version-manager shim), so services written in Python start fast.
pub fn python3() -> &'static str {
    static PY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PY.get_or_init(|| {
        let mut cmd = std::process::Command::new("python3");
        cmd.args(["-c", "import sys; print(sys.executable)"]);
        let out = run_with_deadline(cmd, std::time::Duration::from_secs(30));
        assert!(out.status.success(), "python3 is needed for these tests");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}
