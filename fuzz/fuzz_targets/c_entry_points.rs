#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vidu::fuzzing::c_entry_points(data));
