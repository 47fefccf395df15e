//! A full disk, on a real 16 MiB tmpfs holding the data dir: the API keeps answering; a registration
//! that cannot be stored answers 507 `insufficient_storage` and leaves nothing behind; a transition
//! that could not be stored at once is stored once space is back; service output stops at the
//! free-space floor so state can still be recorded; a daemon restarted on the full disk after a crash
//! refuses to start rather than run services it cannot record, and stops what the dead one left. The mount must work (tests run as root): a
//! failing mount fails the test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use tend_tests::{Daemon, processes_with_marker, run_with_deadline, secs, tend_cmd, wait_for};

/// A tmpfs mounted on a fresh temp dir, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::Builder::new()
            .prefix("tend-tmpfs-")
            .tempdir()
            .unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs on {} (this test needs root): {}",
            dir.path().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn free_bytes(&self) -> u64 {
        let c = std::ffi::CString::new(self.path().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: statvfs(3) with a valid C string and a zeroed out-struct.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0);
        st.f_bavail * st.f_frsize
    }

    /// Fills the file system with `filler` until a write fails; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let block = vec![0u8; 4096];
        while f.write_all(&block).is_ok() {}
        for _ in 0..64 {
            let _ = f.write_all(&[0u8; 64]);
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

fn tend_log(d: &Daemon) -> String {
    std::fs::read_to_string(d.data_dir().join("tend.log")).unwrap_or_default()
}

#[test]
fn a_full_disk_refuses_what_it_cannot_store_and_loses_no_transition() {
    let fs = Tmpfs::mount("16m");
    let data = fs.path().join("data");
    let mut d = Daemon::builder()
        .data_dir(&data)
        .config_toml("[daemon]\nlog_min_free_mb = 4\n")
        .start();

    // Far more output than the disk holds: it stops at the floor, the disk does not fill.
    d.create(&d.service(
        "noisy",
        "seq -f 'noise line %08g padded so that the burst is a good deal larger than the disk' 1 150000; exec sleep 1000",
    ));
    wait_for(secs(30), || {
        let log = tend_log(&d);
        if log.contains("below the floor") {
            Ok(())
        } else {
            Err(format!("free {} bytes", fs.free_bytes()))
        }
    })
    .unwrap();
    assert!(
        fs.free_bytes() > 1024 * 1024,
        "the floor keeps room: {} bytes free",
        fs.free_bytes()
    );
    // State is still recorded.
    let (status, body) = d.post("/api/services", &d.service("kept", "exec sleep 1000"));
    assert_eq!(status, 201, "{body}");
    d.wait_status("kept", "running", secs(10));

    // Now the disk is full.
    let events_before = d.events("kept").len();
    let filler = fs.fill();
    let alive = |d: &Daemon| {
        assert_eq!(d.get("/healthz").0, 200, "daemon stderr:\n{}", d.stderr());
    };
    alive(&d);
    // SQLite may still fit a few rows into space its WAL file already holds (stored for real); once
    // that is used up, a registration is refused. Every answer must tell the truth either way.
    let mut accepted = Vec::new();
    let refused = loop {
        let name = format!("lost-{}", accepted.len());
        let spec = d.service_with(
            &name,
            "exec sleep 1000",
            serde_json::json!({"enabled": false}),
        );
        let (status, body) = d.post("/api/services", &spec);
        match status {
            201 => accepted.push(name),
            507 => {
                assert_eq!(body["error"]["code"], "insufficient_storage", "{body}");
                break name;
            }
            _ => panic!("registration on a full disk answered {status}: {body}"),
        }
        assert!(
            accepted.len() < 5000,
            "the full disk took 5000 registrations"
        );
    };
    assert_eq!(
        d.get(&format!("/api/services/{refused}")).0,
        404,
        "nothing was stored"
    );
    for name in &accepted {
        assert_eq!(
            d.get(&format!("/api/services/{name}")).0,
            200,
            "{name} was answered 201"
        );
    }
    assert_eq!(d.get("/api/status").0, 200, "the API keeps answering");
    assert_eq!(d.get("/healthz").0, 200);

    // A transition while the disk is full is stored once there is room again.
    let (status, body) = d.post_empty("/api/services/kept/stop");
    assert_eq!(status, 200, "{body}");
    d.wait_status("kept", "stopped", secs(15));
    std::fs::remove_file(&filler).unwrap();
    let events = wait_for(secs(30), || {
        let events = d.events("kept");
        if events[events_before.min(events.len())..]
            .iter()
            .any(|e| e["to"] == "stopped")
        {
            Ok(events)
        } else {
            Err(tend_tests::describe_events(&events))
        }
    })
    .unwrap_or_else(|e| {
        let log = tend_log(&d);
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        panic!("{e}\ntend.log (newest first):\n{}", tail.join("\n"))
    });
    assert!(events.len() > events_before);
    let (status, body) = d.post("/api/services", &d.service("later", "exec sleep 1000"));
    assert_eq!(status, 201, "registrations work again: {body}");

    // A crash, then a restart on a full disk: the daemon refuses to start, runs nothing, and stops
    // what the dead daemon left running rather than leave it unmanaged.
    d.kill9();
    assert!(
        !processes_with_marker(d.marker()).is_empty(),
        "services outlive a SIGKILLed daemon"
    );
    let filler = fs.fill();
    let mut cmd = tend_cmd();
    cmd.args(["daemon", "--port", "0", "--control-port", "0", "--data-dir"])
        .arg(&data)
        .env(tend_tests::DAEMON_MARKER_VAR, d.marker());
    let out = run_with_deadline(cmd, secs(30));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started on a full disk: {err}");
    // Refused at the store (it cannot be written), or, when SQLite still had room in its WAL, at the
    // first file it could not write, after stopping what it had started.
    assert!(
        err.contains("tend.db") || err.contains("store") || err.contains("No space left"),
        "{err}"
    );
    assert_eq!(
        processes_with_marker(d.marker()),
        Vec::<u32>::new(),
        "a daemon that cannot record services left some running"
    );
    std::fs::remove_file(&filler).unwrap();
    let listing = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name(), e.metadata().unwrap().len())
            })
            .collect::<Vec<_>>()
    };
    eprintln!(
        "free before the restart: {} bytes; {:?}",
        fs.free_bytes(),
        listing(&data)
    );
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| d.restart())) {
        eprintln!(
            "free after the failed restart: {} bytes; {:?}; {:?}",
            fs.free_bytes(),
            listing(&data),
            listing(fs.path())
        );
        std::panic::resume_unwind(e);
    }
    assert_eq!(d.view("later")["status"], "running");
    for name in &accepted {
        assert_eq!(
            d.get(&format!("/api/services/{name}")).0,
            200,
            "{name} was answered 201 but is gone"
        );
    }
    eprintln!(
        "figure: {} registrations fit in the WAL's slack before the first 507",
        accepted.len()
    );
}
