//! Table manager: shadow copy of every table and the ordered register writes that change them.
