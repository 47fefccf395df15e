//! Starting a program inside a cgroup: `clone3(CLONE_INTO_CGROUP | CLONE_VFORK)`, then in the child a
//! new session, the standard descriptors, the working dir, default signals and `execve`.
//!
//! Why not `posix_spawn`: it cannot place the child in a cgroup, and moving it after the spawn leaves a
//! window in which the program runs (and may fork) outside. `CLONE_INTO_CGROUP` has the kernel create
//! the child in the cgroup, so there is no such window, and it skips the migration a write to
//! `cgroup.procs` costs (a synchronous RCU grace period under `cgroup_threadgroup_rwsem`, milliseconds).
//! On x86_64 the child shares the daemon's memory (`CLONE_VM | CLONE_VFORK`, as glibc's `posix_spawn`
//! does) and runs on a stack of its own, entered by a few lines of assembly (`raw_clone3`): copying the
//! daemon's page tables, as a fork does, made each restart about 2 ms slower and every page the daemon
//! wrote afterwards fault once. Elsewhere the child is a copy-on-write copy of the daemon. Either way
//! `CLONE_VFORK` keeps the calling thread until the child has exec'd, the child only makes
//! async-signal-safe system calls on data prepared before the clone (`Prepared`), and it reports a
//! failure through a close-on-exec pipe.

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
    // The child's stack while it shares our memory (x86_64); 16-byte aligned, as the ABI wants at a call.
    let mut stack = vec![0u128; CHILD_STACK_BYTES / 16];
    let mut args = CloneArgs {
        flags: libc::CLONE_VFORK as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    if cfg!(target_arch = "x86_64") {
        args.flags |= libc::CLONE_VM as u64;
        args.stack = stack.as_mut_ptr() as u64;
        args.stack_size = CHILD_STACK_BYTES as u64;
    }
    let job = ChildJob {
        prepared: &p,
        report: report_w.as_raw_fd(),
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
    // SAFETY: a valid, fully initialised clone_args of the size given; with CLONE_VM the child runs
    // `child_entry` on `stack` (alive until we return: CLONE_VFORK holds us until it exec'd or exited)
    // and never comes back here; without it, it returns here with 0 on its own copy of this stack.
    let pid = unsafe { raw_clone3(&args, &job) };
    if pid == 0 {
        // SAFETY: in the child (no CLONE_VM), which only uses what `p` prepared and never returns.
        unsafe { child(job.prepared, job.report) }
    }
    drop(stack);
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

/// Stack of a child sharing our memory: it only makes system calls through libc before `execve`.
const CHILD_STACK_BYTES: usize = 64 * 1024;

/// What the child needs, behind the one pointer the assembly hands it.
struct ChildJob<'a> {
    prepared: &'a Prepared,
    report: libc::c_int,
}

/// `clone3(args)`: the child's pid in the parent, -1 with errno on failure. With `CLONE_VM` in the flags
/// (x86_64 only), the child starts on `args.stack` in `child_entry(job)`, which never returns.
#[cfg(target_arch = "x86_64")]
unsafe fn raw_clone3(args: &CloneArgs, job: &ChildJob<'_>) -> libc::c_long {
    let ret: libc::c_long;
    // SAFETY: the caller's contract. In the child the kernel has switched to the new (16-byte aligned)
    // stack: nothing of this frame is used there; it calls `child_entry` and traps if that returned.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") job as *const ChildJob<'_>,
            in("r13") child_entry as extern "C" fn(*const ChildJob<'_>) -> !,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    if ret < 0 {
        // SAFETY: errno of this thread.
        unsafe { *libc::__errno_location() = -ret as libc::c_int };
        return -1;
    }
    ret
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn raw_clone3(args: &CloneArgs, _job: &ChildJob<'_>) -> libc::c_long {
    // SAFETY: the caller's contract; without CLONE_VM the child returns here on its own copy.
    unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    }
}

/// Where a child sharing our memory starts, on its own stack.
#[cfg(target_arch = "x86_64")]
extern "C" fn child_entry(job: *const ChildJob<'_>) -> ! {
    // SAFETY: `job` points into the parent's frame, held by CLONE_VFORK until this exec's or exits.
    unsafe {
        let job = &*job;
        child(job.prepared, job.report)
    }
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
