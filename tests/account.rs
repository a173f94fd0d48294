//! The account queries a batch needs: the task list and the credits (official API only).
#![cfg(feature = "emulator")]

mod common;

use common::emulated::fast_config;
use vidu::emulator::{Emulator, EmulatorOptions, Fault, Route};
use vidu::{Client, Error, Provider, State, TaskQuery};

/// An emulator answering `route` with these canned answers, one per request, in order.
fn answering(route: Route, answers: &[(u16, &str)]) -> Emulator {
    let options = (1..)
        .zip(answers)
        .fold(EmulatorOptions::new(), |o, (n, (status, body))| {
            o.fault(Fault::on(route).nth(n).respond(*status, body))
        });
    Emulator::start_with(options).unwrap()
}

fn client(emu: &Emulator) -> Client {
    Client::new(fast_config(Provider::Vidu, emu.base_url(), "k")).unwrap()
}

#[test]
fn the_task_list_pages_through_the_official_api() {
    let emu = answering(
        Route::List,
        &[
            (
                200,
                r#"{"tasks": [{"id": "t1", "state": "success", "payload": "row-1",
                "created_at": "2025-01-01T00:00:00Z",
                "creations": [{"url": "https://cdn/v.mp4"}]}], "next_page_token": "p2"}"#,
            ),
            (200, r#"{"tasks": [], "next_page_token": ""}"#),
        ],
    );
    let c = client(&emu);
    let page = c.tasks(&TaskQuery::new().page_size(1)).unwrap();
    assert_eq!(page.tasks.len(), 1);
    assert_eq!(page.tasks[0].state, State::Succeeded);
    assert_eq!(page.tasks[0].payload.as_deref(), Some("row-1"));
    let token = page.next_page_token.unwrap();
    let last = c.tasks(&TaskQuery::new().page_token(token)).unwrap();
    assert!(last.tasks.is_empty() && last.next_page_token.is_none());
}

#[test]
fn credits_on_the_official_api() {
    let emu = answering(
        Route::Credits,
        &[(
            200,
            r#"{"remains": [{"type": "metered", "credit_remain": 1200, "concurrency_limit": 5,
            "current_concurrency": 2, "queue_count": 0}], "packages": []}"#,
        )],
    );
    let credits = client(&emu).credits().unwrap();
    assert_eq!(credits.remains[0].credit_remain, Some(1200));
    assert_eq!(credits.remains[0].concurrency_limit, Some(5));
}

#[test]
fn an_account_error_is_an_api_error() {
    let emu = answering(
        Route::Credits,
        &[(
            401,
            r#"{"code": 401, "reason": "Unauthorized", "message": "bad key"}"#,
        )],
    );
    let err = client(&emu).credits().unwrap_err();
    assert_eq!(err.http_status(), Some(401), "{err:?}");
    assert_eq!(err.provider_code(), Some("Unauthorized"));
}

#[test]
fn the_gateways_offer_neither() {
    for provider in [Provider::UModelVerse, Provider::Vtrix] {
        // Nothing listens there: Unsupported is answered before anything is sent.
        let c = Client::new(fast_config(provider, "http://127.0.0.1:9".into(), "k")).unwrap();
        let err = c.tasks(&TaskQuery::new()).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
        assert!(err.to_string().contains("task list"), "{err}");
        let err = c.credits().unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    }
}
