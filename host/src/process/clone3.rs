//! Starting a program inside a cgroup: `clone3(CLONE_INTO_CGROUP | CLONE_VFORK)`, then in the child a
//! new session, the standard descriptors, the working dir, default signals and `execve`.
//!
//! Why not `posix_spawn`: it cannot place the child in a cgroup, and moving it after the spawn leaves a
//! window in which the program runs (and may fork) outside. `CLONE_INTO_CGROUP` has the kernel create
//! the child in the cgroup, so there is no such window, and it skips the migration a write to
//! `cgroup.procs` costs (a synchronous RCU grace period under `cgroup_threadgroup_rwsem`, milliseconds).
//! Without `CLONE_VM` (a raw `clone3` cannot run the child on a stack of its own without assembly)
//! the child is a copy-on-write copy of the daemon, as with `fork`; `CLONE_VFORK` keeps the calling
//! thread until the child has exec'd. The child only makes async-signal-safe system calls on data
//! prepared before the clone (`Prepared`), and reports a failure through a close-on-exec pipe.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::posix_spawn::{Prepared, Started};

/// `struct clone_args` of `linux/sched.h` up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Whether `clone3` can be called here: a container's seccomp filter may answer ENOSYS. An argument
/// size of 0 makes a kernel that has it fail with EINVAL before anything is created.
pub(super) fn available() -> bool {
    // SAFETY: clone3 with a null pointer and size 0 is rejected before the pointer is read.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<CloneArgs>(), 0usize) };
    rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS)
}

/// Starts `p` as a new session leader inside the cgroup open at `cgroup`.
pub(super) fn spawn_in_cgroup(p: Prepared, cgroup: &OwnedFd) -> io::Result<Started> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (report_r, report_w) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let args = CloneArgs {
        flags: libc::CLONE_VFORK as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // Every signal blocked across the clone: no handler of the daemon may run in the child before it
    // has reset them all to their defaults.
    // SAFETY: sigset operations on local values; pthread_sigmask on the calling thread.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    // SAFETY: clone3 with a valid, fully initialised clone_args of the size given. Without CLONE_VM
    // the child runs on its own copy of this stack and returns here with 0.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // SAFETY: in the child, which only uses what `p` prepared and never returns.
        unsafe { child(&p, report_w.as_raw_fd()) }
    }
    let clone_error = (pid < 0).then(io::Error::last_os_error);
    // SAFETY: restores the mask saved above on the same thread.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if let Some(e) = clone_error {
        return Err(e);
    }
    drop(report_w);
    // CLONE_VFORK: the child has exec'd (the pipe closed) or failed (it wrote errno) by now.
    let mut errno = [0u8; 4];
    // SAFETY: reads into a local buffer of the given length.
    let n = unsafe { libc::read(report_r.as_raw_fd(), errno.as_mut_ptr().cast(), 4) };
    if n == 4 {
        // The child has exited with 127. Reaped here (the caller holds the reaper's lock, so the
        // reaper cannot take it first): until then it is in the cgroup, which could not be removed.
        let mut status = 0;
        // SAFETY: waits for our own child, which has exited; status is a local.
        unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        return Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno)));
    }
    Ok(p.started(pid as u32))
}

/// The child between `clone3` and `execve`: a new session, stdin/stdout/stderr, the working dir,
/// default signal dispositions, an empty mask, then the program. Only system calls; on failure errno
/// goes to `report` and the child exits 127.
unsafe fn child(p: &Prepared, report: libc::c_int) -> ! {
    // SAFETY (whole body): async-signal-safe calls on data prepared before the clone.
    unsafe {
        let fail = || fail(report);
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
        if libc::setsid() < 0 {
            fail();
        }
        for (from, to) in [
            (p.devnull.as_raw_fd(), 0),
            (p.out.1.as_raw_fd(), 1),
            (p.err.1.as_raw_fd(), 2),
        ] {
            if from == to {
                // dup2 onto itself keeps close-on-exec: clear it instead.
                if libc::fcntl(from, libc::F_SETFD, 0) < 0 {
                    fail();
                }
            } else if libc::dup2(from, to) < 0 {
                fail();
            }
        }
        if let Some(dir) = &p.dir
            && libc::chdir(dir.as_ptr()) < 0
        {
            fail();
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve(
            p.program.as_ptr(),
            p.arg_ptrs.as_ptr().cast(),
            p.env_ptrs.as_ptr().cast(),
        );
        fail()
    }
}

/// Reports errno on `report` and exits the child.
unsafe fn fail(report: libc::c_int) -> ! {
    // SAFETY: errno of this thread; a write of a local buffer; _exit.
    unsafe {
        let bytes = (*libc::__errno_location()).to_ne_bytes();
        libc::write(report, bytes.as_ptr().cast(), 4);
        libc::_exit(127)
    }
}
