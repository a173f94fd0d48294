//! Downloading the video: resume, restart, redirects, expired URLs; never the key.
#![cfg(feature = "emulator")]

mod common;

use common::emulated::*;
use vidu::emulator::{Emulator, Scenario};
use vidu::Provider;

#[test]
fn cut_downloads_resume_with_range_or_restart_when_range_is_ignored() {
    for scenario in [Scenario::CutDownload, Scenario::CutDownloadIgnoresRange] {
        let emu = emulator(scenario);
        generates_the_video(Provider::UModelVerse, &emu);
        let requests = emu.stats().video_requests;
        assert!(requests.len() >= 2, "{requests:?}");
        let range = requests[1]
            .headers
            .iter()
            .find(|(k, _)| k == "range")
            .map(|(_, v)| v.clone());
        let half_or_more = range
            .unwrap()
            .trim_start_matches("bytes=")
            .trim_end_matches('-')
            .parse::<usize>()
            .unwrap();
        assert!(half_or_more > 0 && half_or_more < Emulator::video_bytes().len());
    }
}

#[test]
fn a_cross_origin_redirect_is_followed_without_the_key() {
    let emu = emulator(Scenario::RedirectVideo);
    generates_the_video(Provider::Vidu, &emu);
    let stats = emu.stats();
    assert!(!stats.video_requests.is_empty());
    for r in stats.video_requests {
        assert!(r.headers.iter().all(|(k, _)| k != "authorization"), "{r:?}");
    }
}

#[test]
fn an_expired_video_url_is_refreshed_once() {
    let emu = emulator(Scenario::ExpiredUrl);
    generates_the_video(Provider::Vidu, &emu);
    let statuses: Vec<u16> = emu
        .stats()
        .video_requests
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.first(), Some(&403));
    assert_eq!(statuses.last(), Some(&200));
}
