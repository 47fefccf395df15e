//! The footprint bench's peer: supervisord from PyPI (`supervisord-requirements.txt`, pinned with
//! hashes, in its own venv under the target dir) running the same programs as tend, with its defaults
//! (`startsecs = 1`, output captured to files in a child log dir). Its own processes are supervisord
//! itself; when each program was spawned and entered RUNNING comes from supervisord's log, whose
//! times are written in UTC (`TZ=UTC`) to the millisecond.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};

use super::footprint::{Figures, SERVICES, epoch_ns, idle, parse_civil, service_name};
use super::wait_until;

/// The venv's `bin` directory, installed (or kept) from the pinned requirements.
pub fn install() -> anyhow::Result<PathBuf> {
    let requirements = crate::root()
        .join("xtask")
        .join("src")
        .join("bench")
        .join("supervisord-requirements.txt");
    let venv = crate::target_dir().join("supervisord-venv");
    if crate::venv::ensure(
        &venv,
        &requirements,
        "the footprint bench's peer (supervisord)",
    )? {
        println!("==> installed supervisord into {}", venv.display());
    }
    Ok(venv.join("bin"))
}

fn config(dir: &Path) -> String {
    let d = dir.display();
    let mut conf = format!(
        "[unix_http_server]\nfile={d}/supervisor.sock\n\n\
         [supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
         childlogdir={d}/childlogs\nnodaemon=true\n\n\
         [rpcinterface:supervisor]\n\
         supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n\
         [supervisorctl]\nserverurl=unix://{d}/supervisor.sock\n\n"
    );
    for i in 0..SERVICES {
        conf.push_str(&format!(
            "[program:{}]\ncommand=sleep 3600\n\n",
            service_name(i)
        ));
    }
    conf
}

/// supervisord in the foreground; SIGTERM (SIGKILL after 30 s) when dropped.
struct Supervisord {
    child: Child,
}

impl Drop for Supervisord {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
            let waited = wait_until(
                "supervisord to exit",
                Duration::from_secs(30),
                Duration::from_millis(20),
                || Ok(self.child.try_wait()?),
            );
            if waited.is_err() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

pub fn measure(bin: &Path, dir: &Path) -> anyhow::Result<Figures> {
    std::fs::create_dir_all(dir.join("childlogs"))?;
    let conf = dir.join("supervisord.conf");
    std::fs::write(&conf, config(dir))?;
    let out = File::create(dir.join("supervisord.out"))?;
    let spawned_at = SystemTime::now();
    let child = Command::new(bin.join("supervisord"))
        .arg("-c")
        .arg(&conf)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("cannot start supervisord")?;
    let mut sv = Supervisord { child };
    let pid = sv.child.id();
    let t0 = epoch_ns(spawned_at);
    let log = dir.join("supervisord.log");
    let (spawned, running) = wait_until(
        "every program RUNNING in supervisord's log",
        Duration::from_secs(60),
        Duration::from_millis(20),
        || {
            if let Some(status) = sv.child.try_wait()? {
                bail!("supervisord exited at start ({status})");
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let last = |needle: &str| {
                let times: Vec<i128> = text
                    .lines()
                    .filter(|l| l.contains(needle))
                    .filter_map(parse_civil)
                    .collect();
                (times.len() >= SERVICES).then(|| times.into_iter().max())
            };
            match (last("spawned: "), last("entered RUNNING state")) {
                (Some(Some(s)), Some(Some(r))) => Ok(Some((s, r))),
                _ => Ok(None),
            }
        },
    )
    .with_context(|| format!("see {}", log.display()))?;
    let pids = program_pids(bin, &conf)?;
    let (usage, cpu_percent) = idle(pid, &pids)?;
    if program_pids(bin, &conf)?.len() != SERVICES {
        bail!("supervisord's programs stopped running during the window");
    }
    drop(sv);
    Ok(Figures {
        usage,
        cpu_percent,
        all_running_ms: (spawned - t0) as f64 / 1e6,
        other_ms: (running - t0) as f64 / 1e6,
    })
}

/// The pids of the RUNNING programs, from `supervisorctl status` (`name RUNNING pid 123, uptime ...`).
fn program_pids(bin: &Path, conf: &Path) -> anyhow::Result<Vec<u32>> {
    let out = Command::new(bin.join("supervisorctl"))
        .arg("-c")
        .arg(conf)
        .arg("status")
        .output()
        .context("cannot run supervisorctl")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let pids: Vec<u32> = text
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("RUNNING"))
        .filter_map(|l| {
            let rest = l.split_once(" pid ")?.1;
            rest.split(',').next()?.trim().parse().ok()
        })
        .collect();
    if pids.len() != SERVICES {
        bail!(
            "supervisorctl status shows {} of {SERVICES} programs RUNNING:\n{text}",
            pids.len()
        );
    }
    Ok(pids)
}
