//! Weighted Maglev-style filling of a power-of-two indirection table, with minimal disruption.
