//! ALRM routing plugins after the Anypoint paper's upcalls.
