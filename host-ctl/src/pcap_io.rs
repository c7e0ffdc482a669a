//! Reading and writing the pcap files of `replay`: little-endian, microsecond pcap, so the same
//! frames and timestamps always give the same bytes.

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::time::Duration;

/// A frame with its capture time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub ts: Duration,
    pub data: Vec<u8>,
}

/// Every frame of an Ethernet pcap file, in file order.
pub fn read_ethernet(path: &Path) -> Result<Vec<Frame>, String> {
    let file = File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    let mut reader = PcapReader::new(BufReader::new(file))
        .map_err(|e| format!("{}: not a pcap file: {e}", path.display()))?;
    if reader.header().datalink != DataLink::ETHERNET {
        return Err(format!(
            "{}: link type {:?}, expected Ethernet",
            path.display(),
            reader.header().datalink
        ));
    }
    let mut frames = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt =
            pkt.map_err(|e| format!("{}: packet {}: {e}", path.display(), frames.len() + 1))?;
        frames.push(Frame {
            ts: pkt.timestamp,
            data: pkt.data.into_owned(),
        });
    }
    Ok(frames)
}

/// A pcap file being written.
pub struct Writer {
    inner: PcapWriter<BufWriter<File>>,
    path: String,
}

impl Writer {
    /// `datalink`: Ethernet for port captures, `USER0` for host-queue records (header + frame).
    pub fn create(path: &Path, datalink: DataLink) -> Result<Writer, String> {
        let file =
            File::create(path).map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
        let header = PcapHeader {
            datalink,
            endianness: Endianness::Little,
            ts_resolution: TsResolution::MicroSecond,
            snaplen: 65535,
            ..Default::default()
        };
        let inner = PcapWriter::with_header(BufWriter::new(file), header)
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        Ok(Writer {
            inner,
            path: path.display().to_string(),
        })
    }

    pub fn write(&mut self, ts: Duration, data: &[u8]) -> Result<(), String> {
        self.inner
            .write_packet(&PcapPacket::new(ts, data.len() as u32, data))
            .map(|_| ())
            .map_err(|e| format!("{}: cannot write: {e}", self.path))
    }

    /// Flushes the file; errors that `Drop` would swallow surface here.
    pub fn finish(self) -> Result<(), String> {
        use std::io::Write;
        self.inner
            .into_writer()
            .flush()
            .map_err(|e| format!("{}: cannot write: {e}", self.path))
    }
}
