#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    anypoint_fuzz::packet_path::run(data);
});
