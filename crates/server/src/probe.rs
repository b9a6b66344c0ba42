//! `tessera health`: ask a running server's `/health/ready` and exit 0 only on a 200, for container
//! health checks in images that have no shell or HTTP client.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::HealthArgs;
use ureq::Agent;

/// How long the whole probe may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Probe the server listening on `args.listen` (an unspecified address means this host).
pub fn run(args: &HealthArgs) -> io::Result<ExitCode> {
    let addr = loopback_for(args.listen);
    let status = ready_status(addr)?;
    if status == 200 {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("tessera health: http://{addr}/health/ready answered {status}");
        Ok(ExitCode::FAILURE)
    }
}

/// `0.0.0.0:p` and `[::]:p` are probed on the loopback address of their family.
fn loopback_for(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// The status code of `GET /health/ready` at `addr`, through the HTTP client `tessera check --server`
/// uses as well.
fn ready_status(addr: SocketAddr) -> io::Result<u16> {
    let agent: Agent = Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("http://{addr}/health/ready");
    let response = agent
        .get(&url)
        .call()
        .map_err(|e| io::Error::other(format!("{url}: {e}")))?;
    Ok(response.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot server on 127.0.0.1 that answers its first connection with `reply`.
    fn answering(reply: &'static [u8]) -> SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(reply);
            }
        });
        addr
    }

    #[test]
    fn status_lines_are_read_and_anything_else_is_not() {
        let ok = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        assert_eq!(ready_status(ok).unwrap(), 200);
        let draining = answering(b"HTTP/1.0 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(ready_status(draining).unwrap(), 503);
        assert!(ready_status(answering(b"SSH-2.0-OpenSSH\r\n")).is_err());
        assert!(ready_status(answering(b"HTTP/1.1")).is_err());
    }

    #[test]
    fn unspecified_addresses_are_probed_on_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(loopback_for(any), "127.0.0.1:8080".parse().unwrap());
        let any6: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(loopback_for(any6), "[::1]:9000".parse().unwrap());
        let fixed: SocketAddr = "10.1.2.3:80".parse().unwrap();
        assert_eq!(loopback_for(fixed), fixed);
    }

    #[test]
    fn a_closed_port_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        assert!(ready_status(addr).is_err());
    }
}
