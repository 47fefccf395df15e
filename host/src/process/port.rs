//! Who listens on a TCP port: `/proc/net/tcp` and `tcp6` give the listening socket's inode, the
//! `/proc/<pid>/fd` links name the process holding it. Whether that process is a leftover of a
//! service's earlier runs is told by its `TEND_INSTANCE` marker (`<node>.<service>.<run>`). Reads
//! `/proc` only; never signals.

use std::fs;

/// A process listening on a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
    /// It carries the marker of one of `service`'s runs.
    pub leftover: bool,
}

/// The inodes of sockets listening on `port` in one `/proc/net/tcp*` table.
fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local = f.get(1)?;
            let state = f.get(3)?;
            let inode = f.get(9)?.parse::<u64>().ok()?;
            let p = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (p == port && *state == "0A" && inode != 0).then_some(inode)
        })
        .collect()
}

/// The process listening on `port`, if one can be seen (another user's processes cannot).
pub fn port_holder(port: u16, node: &str, service: &str) -> Option<Holder> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = fs::read_to_string(table) {
            inodes.extend(listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let marker = format!("TEND_INSTANCE={node}.{service}.").into_bytes();
    for entry in fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.filter_map(Result::ok).any(|fd| {
            fs::read_link(fd.path())
                .is_ok_and(|l| wanted.iter().any(|w| l.as_os_str() == w.as_str()))
        });
        if !holds {
            continue;
        }
        let command = fs::read(entry.path().join("cmdline"))
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let leftover = fs::read(entry.path().join("environ"))
            .map(|env| env.split(|&c| c == 0).any(|v| v.starts_with(&marker)))
            .unwrap_or(false);
        return Some(Holder {
            pid,
            command,
            leftover,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_of_this_process_is_found_and_is_no_leftover() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = port_holder(port, "node-x", "web").expect("the test's own listener");
        assert_eq!(h.pid, std::process::id());
        assert!(!h.leftover);
        drop(l);
        assert_eq!(port_holder(port, "node-x", "web"), None);
    }

    #[test]
    fn the_table_is_read_by_port_and_listen_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1\n   1: 0100007F:1F90 0100007F:9999 01 00000000:00000000 00:00000000 00000000  1000        0 77 1\n";
        assert_eq!(listening_inodes(table, 8080), [4242]);
        assert!(listening_inodes(table, 8081).is_empty());
    }
}
