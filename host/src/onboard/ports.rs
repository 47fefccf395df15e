//! Free ports to offer a plan: ports that bind on 127.0.0.1 right now and that no registered
//! service claims (a stopped service's port binds, but is promised to it). They are taken from a
//! range above the usual development ports, starting at a random offset: two previews made one
//! after the other, or two daemons on one machine, would otherwise be offered the same first ports,
//! and a port that is free now is only free until someone binds it (the plan is applied later).

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

/// [`free_ports`] over [`RANGE`] from a random offset.
pub fn offer(claimed: &BTreeSet<u16>) -> Vec<u16> {
    let len = usize::from(RANGE.end() - RANGE.start()) + 1;
    free_ports(OFFERED, claimed, RANGE, rand::random_range(0..len))
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
        let offered = offer(&BTreeSet::new());
        assert!(!offered.is_empty() && offered.len() <= OFFERED);
        assert!(offered.iter().all(|p| RANGE.contains(p) && binds(*p)));
    }
}
