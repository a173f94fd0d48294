//! A large inline image is streamed: the memory a submit allocates does not grow with the
//! image. Measured by a counting allocator, per thread (the emulator's threads, which read the
//! body, and the other tests of this binary are not counted), so it holds on a busy machine.
#![cfg(feature = "emulator")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::emulated::{client, emulator};
use vidu::emulator::Scenario;
use vidu::{Job, Provider};

/// The system allocator, keeping the current thread's net allocated bytes and their peak.
struct Counting;

thread_local! {
    static NET: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // try_with: allocations also happen while a thread's locals are being torn down.
    let _ = NET.try_with(|net| {
        let now = net.get() + delta;
        net.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        System.dealloc(p, layout);
        count(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most bytes this thread held at once during `f`, above what it held before.
fn peak_during(f: impl FnOnce()) -> usize {
    let start = NET.with(Cell::get);
    PEAK.with(|p| p.set(start));
    f();
    (PEAK.with(Cell::get) - start).max(0) as usize
}

/// What a streamed submit may allocate, whatever the image size: buffers of a few hundred KiB
/// (measured: about 0.4 MB). A body built in memory would take more than the image itself.
const BOUND: usize = 4 << 20;

#[test]
fn a_large_inline_image_is_streamed_in_bounded_memory() {
    // A real PNG header padded to 16 MiB: about 21 MiB of base64 on the wire.
    let mut big = common::SAMPLE_PNG[..33].to_vec(); // signature + IHDR chunk
    big.resize(16 << 20, 0);
    let dir = common::TempDir::new();
    let path = dir.join("big.png");
    std::fs::write(&path, &big).unwrap();

    let emu = emulator(Scenario::Normal);
    let c = client(Provider::UModelVerse, &emu);
    let from_memory = peak_during(|| {
        c.submit(&Job::new(&big[..])).unwrap();
    });
    let from_file = peak_during(|| {
        c.submit(&Job::new(path.as_path())).unwrap();
    });
    let stats = emu.stats();
    assert_eq!(stats.submits, 2);
    let submit = stats.last_submit.unwrap();
    assert_eq!(submit.image, format!("data:image/png;{}", big.len()));
    assert!(
        submit.body_len > big.len() as u64 * 4 / 3,
        "the whole image went out"
    );
    for (source, peak) in [("memory", from_memory), ("file", from_file)] {
        assert!(
            peak < BOUND,
            "submitting a {} MiB image from {source} held {peak} bytes at once (bound {BOUND})",
            big.len() >> 20
        );
    }
}
