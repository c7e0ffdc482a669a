//! `make experiments`: the Anypoint paper's three results (throughput, memory against round-trip
//! time, one slow server of four), each measured through the frame switch and through a
//! terminating ACP proxy on the same machine (docs/experiments.md).
//!
//! - [`proxy`]: `acp-proxy`, the baseline;
//! - [`lab`]: the namespaces, servers and client of one run;
//! - [`switch`]: the daemon serving a `proto = "acp"` service;
//! - [`runs`]: one measured transfer through either;
//! - [`report`]: the results and the page written from them.

pub mod lab;
pub mod proxy;
pub mod report;
pub mod runs;
pub mod switch;
