//! The vfio-user side of the simulated NIC: the `vfio_user` crate's server on its own thread, each
//! request handed to the device thread (which owns the switch: a Verilated model may not move) and
//! answered with its reply. Clients are served one after the other; the device outlives them.

use super::pci;
use anypoint_driver::device::host_mailbox;
use anypoint_model::regs;
use std::fs::File;
use std::io::Write;
use std::sync::mpsc;
use vfio_bindings::bindings::vfio::{
    vfio_region_info, VFIO_IRQ_INFO_EVENTFD, VFIO_PCI_BAR0_REGION_INDEX,
    VFIO_PCI_BAR2_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_NUM_REGIONS,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
};
use vfio_user::{IrqInfo, Server, ServerBackend, ServerRegion};

/// One request of the driver, for the device thread.
pub enum Op {
    Read {
        region: u32,
        offset: u64,
        len: usize,
    },
    Write {
        region: u32,
        offset: u64,
        data: Vec<u8>,
    },
    Reset,
    SetIrqs {
        index: u32,
        start: u32,
        fds: Vec<File>,
    },
    /// The client went away: its interrupt descriptors are dropped.
    Disconnected,
}

pub struct Call {
    pub op: Op,
    pub reply: mpsc::SyncSender<std::io::Result<Vec<u8>>>,
}

/// Vectors per interrupt index offered: INTx 1, MSI none, MSI-X 1 (error and request IRQs: none).
const IRQ_VECTORS: [u32; 3] = [1, 0, 1];

fn regions() -> Vec<ServerRegion> {
    (0..VFIO_PCI_NUM_REGIONS)
        .map(|index| {
            let size = match index {
                VFIO_PCI_BAR0_REGION_INDEX => u64::from(regs::MAP_SIZE),
                VFIO_PCI_BAR2_REGION_INDEX => host_mailbox::SIZE,
                VFIO_PCI_CONFIG_REGION_INDEX => pci::SIZE,
                _ => 0,
            };
            let flags = if size > 0 {
                VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE
            } else {
                0
            };
            ServerRegion {
                region_info: vfio_region_info {
                    argsz: std::mem::size_of::<vfio_region_info>() as u32,
                    flags,
                    index,
                    cap_offset: 0,
                    size,
                    offset: 0,
                },
                sparse_areas: Vec::new(),
                mmap_fd: None,
            }
        })
        .collect()
}

fn irqs() -> Vec<IrqInfo> {
    IRQ_VECTORS
        .iter()
        .enumerate()
        .map(|(index, &count)| IrqInfo {
            index: index as u32,
            flags: VFIO_IRQ_INFO_EVENTFD,
            count,
        })
        .collect()
}

/// Listens on `path`; fails if something answers there, replaces a stale socket.
pub fn listen(path: &std::path::Path) -> Result<Server, String> {
    let show = path.display();
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!("{show}: another device server is listening there"));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("{show}: cannot remove stale socket: {e}"))?;
    }
    Server::new(path, true, irqs(), regions()).map_err(|e| format!("{show}: {e}"))
}

/// Serves clients until the device thread is gone; `wake` is written after each call is queued.
pub fn serve(server: Server, calls: mpsc::Sender<Call>, wake: File) {
    let mut proxy = Proxy { calls, wake };
    loop {
        if let Err(e) = server.run(&mut proxy) {
            crate::log::warning!("vfio-user client: {e}");
        }
        if proxy.call(Op::Disconnected).is_err() {
            return;
        }
        crate::log::info!("vfio-user client disconnected");
    }
}

struct Proxy {
    calls: mpsc::Sender<Call>,
    wake: File,
}

impl Proxy {
    fn call(&mut self, op: Op) -> std::io::Result<Vec<u8>> {
        let gone = || std::io::Error::other("the device thread stopped");
        let (reply, answer) = mpsc::sync_channel(1);
        self.calls.send(Call { op, reply }).map_err(|_| gone())?;
        self.wake.write_all(&1u64.to_ne_bytes())?;
        answer.recv().map_err(|_| gone())?
    }
}

impl ServerBackend for Proxy {
    fn region_read(&mut self, region: u32, offset: u64, data: &mut [u8]) -> std::io::Result<()> {
        let len = data.len();
        let bytes = self.call(Op::Read {
            region,
            offset,
            len,
        })?;
        data.copy_from_slice(&bytes);
        Ok(())
    }

    fn region_write(&mut self, region: u32, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.call(Op::Write {
            region,
            offset,
            data: data.to_vec(),
        })
        .map(drop)
    }

    /// The device does no DMA: the mailbox moves the host's records.
    fn dma_map(
        &mut self,
        _flags: vfio_user::DmaMapFlags,
        _offset: u64,
        _address: u64,
        _size: u64,
        _fd: Option<File>,
    ) -> std::io::Result<()> {
        Ok(())
    }

    fn dma_unmap(
        &mut self,
        _flags: vfio_user::DmaUnmapFlags,
        _address: u64,
        _size: u64,
    ) -> std::io::Result<()> {
        Ok(())
    }

    fn reset(&mut self) -> std::io::Result<()> {
        self.call(Op::Reset).map(drop)
    }

    fn set_irqs(
        &mut self,
        index: u32,
        _flags: u32,
        start: u32,
        _count: u32,
        fds: Vec<File>,
    ) -> std::io::Result<()> {
        self.call(Op::SetIrqs { index, start, fds }).map(drop)
    }
}
