//! A TCP listener with a chosen accept backlog (tokio's default of 128 drops connects in a burst, which
//! clients retry only after a second), shared by the API and the control port. Binds only; knows no
//! protocol.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Binds `addr` with `SO_REUSEADDR` and listens with `backlog` (the kernel caps it at
/// `net.core.somaxconn`).
pub fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}
