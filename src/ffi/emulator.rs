//! `vidu_emulator`: the built-in offline emulator of the three providers. Only in builds with the
//! `emulator` feature (the default); the header declares it under `VIDU_HAS_EMULATOR`.

use std::ffi::{c_char, CString};
use std::ptr;

use super::boundary::vidu_error;
use super::boundary::{arg_out, arg_ref, call, free_handle, opt_str, value};
use super::vidu_result;

/// A local HTTP server speaking the UModelVerse, Vtrix and official Vidu protocols, running on
/// its own threads on 127.0.0.1 until freed. Point `vidu_config.base_url` at it.
///
/// Thread safety: may be used from any thread; free it only once no client uses it any more.
pub struct vidu_emulator {
    // Owned only to keep the servers running: dropping it stops them.
    _emulator: crate::emulator::Emulator,
    base_url: CString,
}

/// Starts the emulator into `*out`; free (and stop) it with `vidu_emulator_free`. `scenario`
/// names what the emulated tasks do (`"normal"`, `"task-fails"`, `"never-finishes"`, ...), NULL
/// for `"normal"`. With an `api_key`, requests must carry it; with NULL any key is accepted.
#[no_mangle]
pub unsafe extern "C" fn vidu_emulator_start(
    scenario: *const c_char,
    api_key: *const c_char,
    out: *mut *mut vidu_emulator,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let scenario = opt_str(scenario, "scenario")?;
        let api_key = opt_str(api_key, "api_key")?;
        let out = arg_out(out, "out")?;
        out.set(super::boundary::new_handle(start(scenario, api_key)?));
        Ok(())
    })
}

fn start(scenario: Option<&str>, api_key: Option<&str>) -> Result<vidu_emulator, vidu_error> {
    use crate::emulator::{Emulator, EmulatorOptions};
    let mut options = EmulatorOptions {
        api_key: api_key.map(str::to_owned),
        ..EmulatorOptions::default()
    };
    if let Some(s) = scenario {
        options.scenario = s
            .parse()
            .map_err(|e| vidu_error::invalid_argument("scenario", format!("{e}")))?;
    }
    let emulator = Emulator::start_with(options)
        .map_err(|e| vidu_error::new(super::VIDU_ERROR_IO, e.to_string()))?;
    let base_url = super::boundary::c_string(&emulator.base_url());
    Ok(vidu_emulator {
        _emulator: emulator,
        base_url,
    })
}

/// The emulator's base URL (`http://127.0.0.1:PORT`), valid until the emulator is freed; NULL
/// when `emulator` is NULL.
#[no_mangle]
pub unsafe extern "C" fn vidu_emulator_base_url(emulator: *const vidu_emulator) -> *const c_char {
    value(ptr::null(), || {
        Ok(arg_ref(emulator, "emulator")?.base_url.as_ptr())
    })
}

/// Stops and frees the emulator. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn vidu_emulator_free(emulator: *mut vidu_emulator) {
    value((), || {
        free_handle(emulator);
        Ok(())
    })
}
