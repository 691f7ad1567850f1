//! A loopback TCP proxy for benchmarks: it sits in front of the emulator, holds every HTTP
//! request for a fixed delay before passing it on, and counts the requests. With a delay that
//! dwarfs the emulator's own service time, the network (as a real Region's round trip would),
//! not the emulator's one Python process, bounds what a client achieves.
//!
//! A request is the first bytes a client sends on a connection, or the first it sends after the
//! server answered (HTTP/1.1 without pipelining, which the AWS SDKs and botocore do not use).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

/// A running proxy; it serves until the process ends.
pub(crate) struct DelayProxy {
    address: String,
    requests: Arc<AtomicU64>,
}

impl DelayProxy {
    /// Starts a proxy on a free 127.0.0.1 port in front of `upstream` (`host:port`).
    pub(crate) fn start(upstream: &str, delay: Duration) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the proxy")?;
        let address = listener.local_addr()?.to_string();
        let requests = Arc::new(AtomicU64::new(0));
        let counted = requests.clone();
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                relay(client, server, delay, counted.clone());
            }
        });
        Ok(Self { address, requests })
    }

    /// The endpoint URL clients use.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Requests passed on so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Copies both ways on two threads; a client's write that starts a request waits `delay`.
fn relay(client: TcpStream, server: TcpStream, delay: Duration, requests: Arc<AtomicU64>) {
    let awaiting = Arc::new(AtomicBool::new(true));
    let (Ok(mut client_in), Ok(mut server_out)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let starts = awaiting.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n) = client_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            if starts.swap(false, Ordering::SeqCst) {
                requests.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(delay);
            }
            if server_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server_out.shutdown(Shutdown::Write);
    });
    let (mut server_in, mut client_out) = (server, client);
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        while let Ok(n) = server_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            awaiting.store(true, Ordering::SeqCst);
            if client_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = client_out.shutdown(Shutdown::Write);
    });
}
