//! Cuckoo placement of connection-table entries, computed on the host.
