//! The C library as a C user installs and uses it: `make -C examples/c install` into a prefix
//! (tests/common/c_library.rs), then the C example built with pkg-config, shared and static,
//! and by a CMake project that finds vidu through pkg-config (tests/cmake), each run against
//! the library's built-in emulator.
#![cfg(feature = "emulator")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::tools::{require, run_ok, without_vidu_env};
use vidu::emulator::Emulator;

fn lib() -> PathBuf {
    common::c_library::prefix().join("lib")
}

/// Runs a shell command line, as in the README, with pkg-config looking into the prefix.
fn sh(line: &str) -> Output {
    run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(common::repo_file("examples/c"))
            .env("PKG_CONFIG_PATH", lib().join("pkgconfig")),
    )
}

/// The shared libraries `binary` needs (`readelf -d`: NEEDED) and its SONAME.
fn dynamic_section(binary: &Path) -> (Vec<String>, Option<String>) {
    let out = run_ok(Command::new("readelf").arg("-d").arg(binary));
    let field = |line: &str| line.split('[').nth(1)?.split(']').next().map(str::to_owned);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let needed = text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(field)
        .collect();
    let soname = text
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .and_then(field);
    (needed, soname)
}

/// Runs the C example, which starts the library's emulator when given no key and no URL.
fn assert_generates_a_video(binary: &Path, name: &str) {
    let out = common::temp_path(&format!("{name}.mp4"));
    let run = run_ok(
        without_vidu_env(binary)
            .args(["--provider", "vidu", "--image"])
            .arg(common::repo_file("examples/sample.png"))
            .args(["--poll-interval", "0.05", "--timeout", "30", "--output"])
            .arg(&out),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("using the built-in emulator"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), Emulator::video_bytes());
}

fn have_c_tools(what: &str) -> bool {
    require("cc", what) && require("pkg-config", what) && require("readelf", what)
}

#[test]
fn install_lays_out_a_versioned_shared_library_static_library_headers_and_pkg_config_file() {
    if !have_c_tools("the install checks") {
        return;
    }
    let prefix = common::c_library::prefix();
    let version = vidu::VERSION;
    for file in [
        format!("lib/libvidu.so.{version}"),
        "lib/libvidu.a".into(),
        "include/vidu.h".into(),
        "include/vidu.hpp".into(),
        "lib/pkgconfig/vidu.pc".into(),
    ] {
        assert!(prefix.join(&file).is_file(), "{file} is installed");
    }
    let link = |name: &str| std::fs::read_link(lib().join(name)).unwrap();
    assert_eq!(
        link("libvidu.so.0"),
        Path::new(&format!("libvidu.so.{version}"))
    );
    assert_eq!(link("libvidu.so"), Path::new("libvidu.so.0"));

    let (_, soname) = dynamic_section(&lib().join(format!("libvidu.so.{version}")));
    assert_eq!(soname.as_deref(), Some("libvidu.so.0"));

    let modversion = sh("pkg-config --modversion vidu");
    assert_eq!(String::from_utf8_lossy(&modversion.stdout).trim(), version);
    let libs = String::from_utf8_lossy(&sh("pkg-config --libs vidu").stdout).into_owned();
    assert_eq!(libs.trim(), format!("-L{} -lvidu", lib().display()));
    // The system libraries the static library needs, for `pkg-config --static`.
    let static_libs = sh("pkg-config --static --libs vidu").stdout;
    let static_libs = String::from_utf8_lossy(&static_libs);
    for native in ["-lvidu", "-lgcc_s", "-lpthread", "-ldl", "-lc"] {
        assert!(
            static_libs.split_whitespace().any(|w| w == native),
            "{native} in {static_libs}"
        );
    }
}

#[test]
fn c_program_linked_with_pkg_config_needs_libvidu_so_0_and_runs() {
    if !have_c_tools("the pkg-config build") {
        return;
    }
    let binary = common::temp_path("img2video-shared");
    // The README's dynamic link line.
    sh(&format!(
        "cc -std=c99 img2video.c -o {} $(pkg-config --cflags --libs vidu) \
         -Wl,-rpath,\"$(pkg-config --variable=libdir vidu)\" -lm",
        binary.display()
    ));
    let (needed, _) = dynamic_section(&binary);
    assert!(needed.iter().any(|n| n == "libvidu.so.0"), "{needed:?}");
    assert!(!needed.iter().any(|n| n == "libvidu.so"), "{needed:?}");
    assert_generates_a_video(&binary, "pkg-config-shared");
}

#[test]
fn c_program_linked_statically_with_pkg_config_static_runs() {
    if !have_c_tools("the pkg-config --static build") {
        return;
    }
    let binary = common::temp_path("img2video-static");
    // The README's static link line.
    sh(&format!(
        "cc -std=c99 img2video.c -o {} $(pkg-config --cflags vidu) -Wl,--gc-sections,--as-needed \
         \"$(pkg-config --variable=libdir vidu)/libvidu.a\" $(pkg-config --static --libs vidu) -lm",
        binary.display()
    ));
    let (needed, _) = dynamic_section(&binary);
    assert!(
        !needed.iter().any(|n| n.starts_with("libvidu")),
        "linked statically: {needed:?}"
    );
    assert_generates_a_video(&binary, "pkg-config-static");
}

#[test]
fn cmake_project_finds_vidu_through_pkg_config() {
    if !have_c_tools("the CMake build") || !require("cmake", "the CMake build") {
        return;
    }
    let build = common::temp_path("cmake-build");
    run_ok(
        Command::new("cmake")
            .arg("-S")
            .arg(common::repo_file("tests/cmake"))
            .arg("-B")
            .arg(&build)
            .arg(format!(
                "-DCMAKE_PREFIX_PATH={}",
                common::c_library::prefix().display()
            )),
    );
    run_ok(Command::new("cmake").arg("--build").arg(&build));
    let binary = build.join("img2video");
    let (needed, _) = dynamic_section(&binary);
    assert!(needed.iter().any(|n| n == "libvidu.so.0"), "{needed:?}");
    assert_generates_a_video(&binary, "cmake");
}
