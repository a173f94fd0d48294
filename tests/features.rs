//! The C ABI's and the emulator's tests compile only with their features: without them a
//! `cargo test` would pass having skipped them, silently. This one says so instead.

#[cfg(not(all(feature = "capi", feature = "emulator")))]
#[test]
fn the_c_abi_and_emulator_tests_ran() {
    panic!(
        "the tests of the C ABI and against the emulator need their features, which this run \
         lacks: run `cargo test --all-features`"
    );
}
