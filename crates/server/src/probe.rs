//! `tessera health`: ask a running server's `/health/ready` and exit 0 only on a 200, for container
//! health checks in images that have no shell or HTTP client.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::HealthArgs;

/// How long connecting, sending and reading may each take.
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

/// The status code of `GET /health/ready` at `addr` (HTTP/1.0, so the server closes after answering).
fn ready_status(addr: SocketAddr) -> io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET /health/ready HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < 12 {
        let n = stream.read(&mut head[len..])?;
        if n == 0 {
            break;
        }
        len += n;
    }
    parse_status(&head[..len]).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("http://{addr}/health/ready: not an HTTP response"),
        )
    })
}

/// The code of a status line such as `HTTP/1.1 200 OK`.
fn parse_status(head: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(head.get(..12)?).ok()?;
    let code = line.strip_prefix("HTTP/1.")?.get(2..5)?;
    code.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_and_anything_else_is_not() {
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(parse_status(b"HTTP/1.0 503 Service Unavailable"), Some(503));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_status(b"HTTP/1.1"), None);
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
