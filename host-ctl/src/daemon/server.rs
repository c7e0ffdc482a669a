//! The control socket: a UNIX stream listener (mode 0600) with non-blocking clients, each sending
//! request lines and reading reply lines. A client can never stall the datapath or crash the daemon:
//! an over-long request gets an error reply and the connection is closed.

use crate::protocol::{self, MAX_REQUEST};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Clients served at once; more wait in the listen backlog.
const MAX_CLIENTS: usize = 64;
/// Reads per client per wakeup, so one busy client cannot starve the datapath.
const READS_PER_WAKEUP: usize = 16;
/// Unsent reply bytes at which the daemon stops reading a client's requests until it reads replies.
const MAX_PENDING_REPLY: usize = 4 << 20;

pub struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    clients: Vec<Client>,
}

struct Client {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    /// No more requests: close once `outbuf` is written.
    closing: bool,
    dead: bool,
}

impl ControlServer {
    /// Fails when another daemon answers on `path`, or `path` is something else than a socket.
    pub fn check_free(path: &Path) -> Result<(), String> {
        let show = path.display();
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(format!("{show} exists and is not a socket"));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "another anypoint-ctl daemon is already serving {show} (stop it, or give --socket)"
                ));
            }
        }
        Ok(())
    }

    /// Listens on `path` unless another daemon answers there; a stale socket is replaced.
    pub fn bind(path: &Path) -> Result<ControlServer, String> {
        let show = path.display();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        }
        ControlServer::check_free(path)?;
        if std::fs::symlink_metadata(path).is_ok() {
            std::fs::remove_file(path)
                .map_err(|e| format!("{show}: cannot remove stale socket: {e}"))?;
        }
        // Only root may steer the switch: the socket is created 0600.
        // SAFETY: umask only swaps the process file-mode mask.
        let old = unsafe { libc::umask(0o177) };
        let bound = UnixListener::bind(path);
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        let listener = bound.map_err(|e| format!("{show}: cannot listen: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("{show}: {e}"))?;
        Ok(ControlServer {
            listener,
            path: path.to_path_buf(),
            clients: Vec::new(),
        })
    }

    /// The descriptors to poll: the listener (while there is room), then each client.
    pub fn poll_fds(&self) -> Vec<libc::pollfd> {
        let listen = (self.clients.len() < MAX_CLIENTS).then(|| libc::pollfd {
            fd: self.listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        let clients = self.clients.iter().map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: match c.outbuf.len() {
                0 => libc::POLLIN,
                n if n < MAX_PENDING_REPLY => libc::POLLIN | libc::POLLOUT,
                _ => libc::POLLOUT,
            },
            revents: 0,
        });
        let mut fds: Vec<libc::pollfd> = listen.into_iter().collect();
        fds.extend(clients);
        fds
    }

    /// Serves what `poll` reported on the descriptors of [`ControlServer::poll_fds`]: `handle` turns
    /// each request line into its reply line.
    pub fn serve(&mut self, fds: &[libc::pollfd], mut handle: impl FnMut(&[u8]) -> String) {
        let listening = self.clients.len() < MAX_CLIENTS;
        let (listen, clients) = fds.split_at(usize::from(listening));
        for (client, fd) in self.clients.iter_mut().zip(clients) {
            if fd.revents != 0 {
                client.read(&mut handle);
                client.flush();
            }
        }
        self.clients.retain(|c| !c.finished());
        if listen.first().is_some_and(|fd| fd.revents != 0) {
            self.accept();
        }
    }

    fn accept(&mut self) {
        while self.clients.len() < MAX_CLIENTS {
            match self.listener.accept() {
                Ok((stream, _)) if stream.set_nonblocking(true).is_ok() => {
                    self.clients.push(Client {
                        stream,
                        inbuf: Vec::new(),
                        outbuf: Vec::new(),
                        closing: false,
                        dead: false,
                    })
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Client {
    fn finished(&self) -> bool {
        self.dead || (self.closing && self.outbuf.is_empty())
    }

    fn read(&mut self, handle: &mut impl FnMut(&[u8]) -> String) {
        let mut buf = [0u8; 16 * 1024];
        for _ in 0..READS_PER_WAKEUP {
            if self.closing || self.outbuf.len() >= MAX_PENDING_REPLY {
                return;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    // The peer is done sending: answer a last request without newline, then close.
                    if !self.inbuf.is_empty() {
                        let line = std::mem::take(&mut self.inbuf);
                        self.reply(handle(&line));
                    }
                    self.closing = true;
                }
                Ok(n) => {
                    self.inbuf.extend_from_slice(&buf[..n]);
                    while let Some(end) = self.inbuf.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = self.inbuf.drain(..=end).collect();
                        self.reply(handle(&line[..end]));
                    }
                    if self.inbuf.len() > MAX_REQUEST {
                        self.reply(protocol::encode_reply(Err(format!(
                            "request longer than {MAX_REQUEST} bytes"
                        ))));
                        self.inbuf = Vec::new();
                        self.closing = true;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
    }

    fn reply(&mut self, line: String) {
        self.outbuf.extend_from_slice(line.as_bytes());
        self.outbuf.push(b'\n');
    }

    fn flush(&mut self) {
        while !self.outbuf.is_empty() {
            match self.stream.write(&self.outbuf) {
                Ok(n) => {
                    self.outbuf.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
    }
}
