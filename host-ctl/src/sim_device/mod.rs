//! `anypoint-ctl sim-device`: the switch (model or Verilated RTL) served as a vfio-user PCI device,
//! its Ethernet ports on TAP devices. The device thread owns the switch, the links and the host
//! mailbox; the vfio-user server thread only carries the driver's requests to it
//! ([`transport`]). Layout of the device: docs/sim-device.md.

mod mailbox;
mod pci;
mod transport;

use crate::backend::{AnySwitch, BackendKind};
use crate::link::{Link, PortSpec};
use crate::log::{debug, error, info};
use crate::poll;
use crate::signals::{self, Signals};
use anypoint_driver::{PacketIo, RegisterAccess};
use anypoint_model::regs;
use mailbox::Mailbox;
use pci::ConfigSpace;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::PathBuf;
use std::sync::mpsc;
use transport::{Call, Op};
use vfio_bindings::bindings::vfio::{
    VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX,
};

pub struct SimOptions {
    pub socket: PathBuf,
    pub backend: BackendKind,
    pub ports: Vec<PortSpec>,
}

/// Frames read from one link per wakeup before the others get a turn.
const BATCH: usize = 64;

/// Serves until SIGTERM or SIGINT; the socket and the TAPs are gone when it returns.
pub fn run(opts: SimOptions) -> Result<(), String> {
    // SIGUSR1 resets the device behind the driver's back, as a PCIe hot reset by another agent would.
    let signals = Signals::block(&[libc::SIGUSR1])?;
    let mut nic = Nic {
        switch: opts.backend.build(),
        backend: opts.backend,
        mailbox: Mailbox::new(),
        config: ConfigSpace::new(),
        irqs: BTreeMap::new(),
        links: BTreeMap::new(),
    };
    let ports = nic.switch.read32(regs::reg::NUM_PORTS);
    for (i, spec) in opts.ports.iter().enumerate() {
        if u32::from(spec.port) >= ports {
            return Err(format!(
                "--port {}={}: the device has ports 0..{}",
                spec.port,
                spec.link,
                ports.saturating_sub(1)
            ));
        }
        if opts.ports[..i].iter().any(|o| o.port == spec.port) {
            return Err(format!("--port {}: given twice", spec.port));
        }
        nic.links.insert(spec.port, spec.link.open()?);
        info!("port {} attached to {}", spec.port, spec.link);
    }
    // Last: the socket appearing tells scripts the device and its ports are ready.
    let server = transport::listen(&opts.socket)?;
    let wake = eventfd()?;
    let (calls, requests) = mpsc::channel();
    let theirs = wake.try_clone().map_err(|e| format!("eventfd: {e}"))?;
    std::thread::spawn(move || transport::serve(server, calls, theirs));
    info!(
        "serving the {:?} switch as a vfio-user device on {}",
        opts.backend,
        opts.socket.display()
    );
    let mut buf = vec![0u8; 65536];
    loop {
        let mut fds = vec![
            poll::readable(signals.fd()),
            poll::readable(wake.as_raw_fd()),
        ];
        fds.extend(nic.links.values().map(|l| poll::readable(l.fd())));
        poll::wait(&mut fds, -1)?;
        if fds[0].revents != 0 {
            match signals.take() {
                libc::SIGUSR1 => {
                    nic.power_on();
                    info!("SIGUSR1: device reset to its power-on state");
                }
                0 => {}
                sig => {
                    info!("{}: shutting down", signals::name(sig));
                    break;
                }
            }
        }
        if fds[1].revents != 0 {
            let mut count = [0u8; 8];
            let _ = (&wake).read(&mut count);
            while let Ok(call) = requests.try_recv() {
                nic.serve(call);
            }
        }
        let ready: Vec<u8> = nic
            .links
            .keys()
            .zip(&fds[2..])
            .filter(|(_, fd)| fd.revents != 0)
            .map(|(&port, _)| port)
            .collect();
        for port in ready {
            for _ in 0..BATCH {
                let link = nic.links.get_mut(&port).expect("polled link");
                match link.recv(&mut buf) {
                    Ok(Some(n)) => {
                        nic.switch.receive(port, &buf[..n]);
                        nic.drain();
                    }
                    Ok(None) => break,
                    Err(e) => {
                        error!("port {port}: read: {e}");
                        break;
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_file(&opts.socket);
    info!("stopped");
    Ok(())
}

fn eventfd() -> Result<File, String> {
    // SAFETY: eventfd returns a new descriptor or -1.
    let raw = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if raw < 0 {
        return Err(format!("eventfd: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a new descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(raw) })
}

/// The simulated NIC: switch, ports, mailbox, configuration space and interrupt routes.
struct Nic {
    switch: AnySwitch,
    backend: BackendKind,
    mailbox: Mailbox,
    config: ConfigSpace,
    /// Eventfd per interrupt index (vector 0), as the client routed them.
    irqs: BTreeMap<u32, File>,
    links: BTreeMap<u8, Box<dyn Link>>,
}

impl Nic {
    fn serve(&mut self, call: Call) {
        let reply = match call.op {
            Op::Read {
                region,
                offset,
                len,
            } => {
                let mut buf = vec![0u8; len];
                self.read(region, offset, &mut buf);
                buf
            }
            Op::Write {
                region,
                offset,
                data,
            } => {
                self.write(region, offset, &data);
                Vec::new()
            }
            Op::Reset => {
                self.power_on();
                info!("device reset (VFIO_DEVICE_RESET): back to power-on state");
                Vec::new()
            }
            Op::SetIrqs { index, start, fds } => {
                match fds.into_iter().next() {
                    Some(fd) if start == 0 => {
                        debug!("interrupt {index} routed to an eventfd");
                        self.irqs.insert(index, fd);
                    }
                    _ => {
                        self.irqs.remove(&index);
                    }
                }
                Vec::new()
            }
            Op::Disconnected => {
                self.irqs.clear();
                Vec::new()
            }
        };
        self.drain();
        // The server thread waits for every reply; it only goes away with the process.
        let _ = call.reply.send(Ok(reply));
    }

    /// A fresh switch: every register, table and counter at its power-on value, queues empty.
    fn power_on(&mut self) {
        self.switch = self.backend.build();
        self.mailbox = Mailbox::new();
        self.config = ConfigSpace::new();
    }

    fn read(&mut self, region: u32, offset: u64, buf: &mut [u8]) {
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => match bar0_words(offset, buf.len()) {
                Some(words) => {
                    for (chunk, reg) in buf.chunks_mut(4).zip(words) {
                        chunk.copy_from_slice(&self.switch.read32(reg).to_le_bytes());
                    }
                }
                None => buf.fill(0xff),
            },
            VFIO_PCI_BAR2_REGION_INDEX => self.mailbox.read(offset, buf),
            VFIO_PCI_CONFIG_REGION_INDEX => self.config.read(offset, buf),
            _ => buf.fill(0xff),
        }
    }

    fn write(&mut self, region: u32, offset: u64, data: &[u8]) {
        match region {
            VFIO_PCI_BAR0_REGION_INDEX => match bar0_words(offset, data.len()) {
                Some(words) => {
                    for (chunk, reg) in data.chunks(4).zip(words) {
                        let value = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
                        self.switch.write32(reg, value);
                    }
                }
                None => debug!(
                    "BAR0 write of {} bytes at {offset:#x} ignored: not whole registers",
                    data.len()
                ),
            },
            VFIO_PCI_BAR2_REGION_INDEX => {
                if let Some(record) = self.mailbox.write(offset, data) {
                    let accepted = self.switch.inject(&record);
                    self.mailbox.set_inject_result(accepted);
                }
            }
            VFIO_PCI_CONFIG_REGION_INDEX => self.config.write(offset, data),
            _ => {}
        }
    }

    /// Sends egress frames out of their ports and moves host records into the mailbox, raising the
    /// interrupt when it queued any.
    fn drain(&mut self) {
        let mut queued = false;
        loop {
            if let Some((port, frame)) = self.switch.pop_egress() {
                if let Some(link) = self.links.get_mut(&port) {
                    if let Err(e) = link.send(&frame) {
                        debug!("port {port}: frame of {} bytes not sent: {e}", frame.len());
                    }
                }
            } else if self.mailbox.has_room() {
                match self.switch.pop_host() {
                    Some(record) => {
                        self.mailbox.push(record);
                        queued = true;
                    }
                    None => break,
                }
            } else {
                break;
            }
        }
        if queued {
            for fd in self.irqs.values_mut() {
                let _ = fd.write_all(&1u64.to_ne_bytes());
            }
        }
    }
}

/// The register offsets an access of `len` bytes at `offset` covers, if it covers whole registers
/// inside the map.
fn bar0_words(offset: u64, len: usize) -> Option<impl Iterator<Item = u32>> {
    let end = offset.checked_add(len as u64)?;
    (offset.is_multiple_of(4)
        && len.is_multiple_of(4)
        && len > 0
        && end <= u64::from(regs::MAP_SIZE))
    .then(|| (offset..end).step_by(4).map(|o| o as u32))
}
