//! A Rust program that depends on vidu builds the Rust library alone: no libvidu.so, no
//! libvidu.a, no C ABI (`--features capi`) and no emulator (`--features emulator`).

mod common;

use std::process::Command;

#[test]
fn dependent_crate_builds_the_rlib_alone_without_the_c_abi() {
    let dir = common::temp_path("dependent-crate");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"uses-vidu\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nvidu = {{ path = {:?} }}\n\n[workspace]\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() { println!(\"{}\", vidu::VERSION); }\n",
    )
    .unwrap();
    // Our lock file: the same dependency versions, already downloaded, and built in
    // target/capi for the C library tests (same profile and features), so this stays cheap.
    std::fs::copy(common::repo_file("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let out = Command::new(common::c_library::cargo())
        .args(["build", "--offline", "--message-format=json"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", common::c_library::target_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let artifacts: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|m: &serde_json::Value| m["reason"] == "compiler-artifact")
        .collect();
    let vidu: Vec<_> = artifacts
        .iter()
        .filter(|a| a["target"]["name"] == "vidu")
        .collect();
    assert_eq!(vidu.len(), 1, "vidu is built once: {vidu:#?}");
    assert_eq!(vidu[0]["target"]["crate_types"], serde_json::json!(["lib"]));
    assert_eq!(
        vidu[0]["features"],
        serde_json::json!(["default"]),
        "neither the C ABI nor the emulator"
    );
    for artifact in &artifacts {
        for file in artifact["filenames"].as_array().unwrap() {
            // (Proc macros such as serde_derive are .so files too: look at vidu's only.)
            let name = std::path::Path::new(file.as_str().unwrap()).file_name();
            let name = name.unwrap().to_str().unwrap();
            assert!(
                !(name.starts_with("libvidu") && (name.ends_with(".so") || name.ends_with(".a"))),
                "a C library was built: {name}"
            );
        }
    }
}

/// Most test files compile to nothing without the emulator and the C ABI: a plain `cargo test`
/// would pass having tested little. This one fails instead, naming the command.
#[test]
fn the_suite_runs_with_all_features() {
    if !cfg!(all(feature = "emulator", feature = "capi")) {
        panic!(
            "run the tests with `cargo test --all-features`: without the `emulator` and `capi` \
             features most test files compile to nothing"
        );
    }
}
