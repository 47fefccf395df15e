//! Starting a program as the leader of a new session with `posix_spawn(POSIX_SPAWN_SETSID)`.
//!
//! glibc implements `posix_spawn` with `CLONE_VM | CLONE_VFORK`, so starting a child costs the same
//! however large the daemon is; `fork` (which `std::process::Command` needs for a `setsid` in
//! `pre_exec`) copies the page tables of the whole daemon and makes it take copy-on-write faults until
//! the child has exec'd. Used when runs are not contained by cgroups (`clone3.rs` starts them
//! otherwise); `Prepared`, everything a child needs allocated before it exists, serves both.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::ptr;

pub(super) struct Started {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

pub(super) fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in argument"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Asks for a pipe capacity of at least `bytes` (`F_SETPIPE_SZ`, on either end); never shrinks it.
/// Returns the capacity the pipe has now. The kernel refuses more than `pipe-max-size`, or more than
/// the user's pipe budget, unless privileged.
pub fn grow_pipe(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    // SAFETY: fcntl with F_GETPIPE_SZ / F_SETPIPE_SZ only reads its integer argument.
    let now = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) };
    if now < 0 {
        return Err(io::Error::last_os_error());
    }
    if now as usize >= bytes {
        return Ok(now as usize);
    }
    let ask = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: as above.
    let got = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, ask) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(got as usize)
}

/// Finds `program` the way `execvp` would, with the child's `PATH`.
fn resolve(program: &str, env: &[(OsString, OsString)]) -> io::Result<PathBuf> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{program}: not found in PATH"),
            )
        })
}

/// A program ready to start: everything the child needs, allocated before it exists (a child of
/// `clone3` may not allocate), and the pipes of its output.
pub(super) struct Prepared {
    pub program: CString,
    pub arg_ptrs: Vec<*mut libc::c_char>,
    pub env_ptrs: Vec<*mut libc::c_char>,
    pub dir: Option<CString>,
    pub devnull: File,
    pub out: (OwnedFd, OwnedFd),
    pub err: (OwnedFd, OwnedFd),
    // What the pointer vectors point into.
    _args: Vec<CString>,
    _vars: Vec<CString>,
}

impl Prepared {
    pub fn new(
        argv: &[String],
        cwd: Option<&Path>,
        env: &[(OsString, OsString)],
    ) -> io::Result<Prepared> {
        let program = cstring(resolve(&argv[0], env)?.as_os_str())?;
        let args: Vec<CString> = argv
            .iter()
            .map(|a| cstring(OsStr::new(a)))
            .collect::<io::Result<_>>()?;
        let vars: Vec<CString> = env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in environment")
                })
            })
            .collect::<io::Result<_>>()?;
        let mut arg_ptrs: Vec<*mut libc::c_char> =
            args.iter().map(|c| c.as_ptr().cast_mut()).collect();
        arg_ptrs.push(ptr::null_mut());
        let mut env_ptrs: Vec<*mut libc::c_char> =
            vars.iter().map(|c| c.as_ptr().cast_mut()).collect();
        env_ptrs.push(ptr::null_mut());
        Ok(Prepared {
            program,
            arg_ptrs,
            env_ptrs,
            dir: cwd.map(|d| cstring(d.as_os_str())).transpose()?,
            devnull: File::open("/dev/null")?,
            out: pipe()?,
            err: pipe()?,
            _args: args,
            _vars: vars,
        })
    }

    /// The parent's ends once the child has started.
    pub fn started(self, pid: u32) -> Started {
        Started {
            pid,
            stdout: self.out.0,
            stderr: self.err.0,
        }
    }
}

/// Starts `argv` with exactly `env`, in `cwd`, as a new session leader: stdin on /dev/null, stdout and
/// stderr on new pipes, default signal dispositions and an empty signal mask.
pub(super) fn spawn_session(p: Prepared, name: &str) -> io::Result<Started> {
    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer handed to the posix_spawn family points into values (`CString`s, pointer
    // vectors ending in NULL, descriptors) that live until the end of this block; the file actions and
    // attributes are initialised before use and destroyed exactly once.
    unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        check(libc::posix_spawn_file_actions_init(&mut actions))?;
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        if let Err(e) = check(libc::posix_spawnattr_init(&mut attr)) {
            libc::posix_spawn_file_actions_destroy(&mut actions);
            return Err(e);
        }
        let result = (|| {
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                p.devnull.as_raw_fd(),
                0,
            ))?;
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                p.out.1.as_raw_fd(),
                1,
            ))?;
            check(libc::posix_spawn_file_actions_adddup2(
                &mut actions,
                p.err.1.as_raw_fd(),
                2,
            ))?;
            if let Some(dir) = &p.dir {
                check(libc::posix_spawn_file_actions_addchdir_np(
                    &mut actions,
                    dir.as_ptr(),
                ))?;
            }
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            let mut defaults: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut defaults);
            libc::sigdelset(&mut defaults, libc::SIGKILL);
            libc::sigdelset(&mut defaults, libc::SIGSTOP);
            check(libc::posix_spawnattr_setsigmask(&mut attr, &empty))?;
            // The daemon ignores SIGPIPE (Rust does); children start with every default.
            check(libc::posix_spawnattr_setsigdefault(&mut attr, &defaults))?;
            let flags = libc::POSIX_SPAWN_SETSID as libc::c_int
                | libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawnattr_setflags(
                &mut attr,
                flags as libc::c_short,
            ))?;
            check(libc::posix_spawn(
                &mut pid,
                p.program.as_ptr(),
                &actions,
                &attr,
                p.arg_ptrs.as_ptr(),
                p.env_ptrs.as_ptr(),
            ))
        })();
        libc::posix_spawn_file_actions_destroy(&mut actions);
        libc::posix_spawnattr_destroy(&mut attr);
        result.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => io::Error::new(e.kind(), format!("{name}: {e}")),
            _ => e,
        })?;
    }
    Ok(p.started(pid as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn resolves_like_execvp() {
        let e = env(&[("PATH", "/nonexistent:/bin:/usr/bin")]);
        assert!(resolve("sh", &e).unwrap().ends_with("sh"));
        assert_eq!(resolve("./x", &e).unwrap(), PathBuf::from("./x"));
        let err = resolve("no-such-program-tend", &e).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
