//! Verilator co-simulation of `hw/` against `anypoint-model`: arrives with the RTL issue.
