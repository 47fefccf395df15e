//! Free ports to offer a plan: ports that bind on 127.0.0.1 right now and that no registered
//! service claims (a stopped service's port binds, but is promised to it). They are taken from a
//! range above the usual development ports, starting at an offset picked by the project's root: a
//! port that is free now is only free until someone binds it (the plan is applied later), so
//! different projects (previewed one after the other, or by two daemons on one machine) should not
//! all be offered the same first ports. The offset is a hash of the root rather than a random
//! number so that previews of one project offer the same ports: a preview, a refinement asked
//! after it and the apply after that agree, and a person reading two previews sees no churn.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::ops::RangeInclusive;

/// Where offered ports come from: above the common development ports (3000, 5000, 8000, 8080),
/// below the ephemeral range Linux hands out for outgoing connections (32768 and up).
pub const RANGE: RangeInclusive<u16> = 20000..=29999;

/// How many ports a plan is offered: more than any single project needs.
pub const OFFERED: usize = 16;

/// Whether `port` binds on 127.0.0.1 now.
pub fn binds(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Up to `n` ports of `range` that bind now and are not in `claimed`, starting at `start` (an
/// offset into the range) and wrapping around.
pub fn free_ports(
    n: usize,
    claimed: &BTreeSet<u16>,
    range: RangeInclusive<u16>,
    start: usize,
) -> Vec<u16> {
    let (lo, hi) = (*range.start(), *range.end());
    let len = usize::from(hi - lo) + 1;
    (0..len)
        .map(|i| lo + ((start + i) % len) as u16)
        .filter(|p| !claimed.contains(p) && binds(*p))
        .take(n)
        .collect()
}

/// [`free_ports`] over [`RANGE`] from the offset of `root`.
pub fn offer(root: &std::path::Path, claimed: &BTreeSet<u16>) -> Vec<u16> {
    let len = usize::from(RANGE.end() - RANGE.start()) + 1;
    free_ports(OFFERED, claimed, RANGE, offset(root) % len)
}

/// FNV-1a of the root's bytes: stable across calls and daemons (std's hasher is seeded per process).
fn offset(root: &std::path::Path) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in root.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_bind_skip_claimed_and_busy_ones_and_wrap() {
        // A port held here is busy; one claimed by a service is skipped though it binds.
        let held = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let busy = held.local_addr().unwrap().port();
        let range = busy.saturating_sub(2)..=busy.saturating_add(2);
        let claimed = BTreeSet::from([busy.saturating_sub(1)]);
        let got = free_ports(5, &claimed, range.clone(), 2);
        assert!(!got.contains(&busy), "{got:?}");
        assert!(!got.contains(&(busy - 1)), "{got:?}");
        assert!(got.iter().all(|p| range.contains(p)));
        // Starting at offset 2 (the busy port) it goes on upwards, then wraps to the start.
        if got.len() == 3 {
            assert_eq!(got, [busy + 1, busy + 2, busy - 2]);
        }
        let root = std::path::Path::new("/home/u/Code/shop");
        let offered = offer(root, &BTreeSet::new());
        assert!(!offered.is_empty() && offered.len() <= OFFERED);
        assert!(offered.iter().all(|p| RANGE.contains(p) && binds(*p)));
        // One project, the same offset; another project, (almost surely) another.
        assert_eq!(offset(root), offset(root));
        assert_ne!(
            offset(root),
            offset(std::path::Path::new("/home/u/Code/blog"))
        );
    }
}
