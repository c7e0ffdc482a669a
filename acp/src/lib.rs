//! ACP, Anypoint's framed transport (docs/acp.md): a TCP-shaped reliable byte-sequence protocol,
//! carried as IP protocol 253, whose segments hold whole application frames.
//!
//! - [`wire`]: the segment and frame codecs and the checksum (pure, shared with the switch model);
//! - [`conn`]: the protocol engine of one connection, driven by an injected clock;
//! - [`endpoint`]: connections over a raw IP socket with a blocking message API;
//! - [`testing`]: network namespaces and the impairment relay the tests use.

pub mod conn;
pub mod endpoint;
mod raw;
pub mod testing;
pub mod wire;

pub use conn::{Buffered, Config, ConnError, Connection, RecvFrame, SendError, State, Stats};
pub use endpoint::{Endpoint, Listener, Stream};
