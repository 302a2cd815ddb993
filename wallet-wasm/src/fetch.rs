//! The HTTP transport of the wallet in browsers and Node: `fetch` on the JS global
//! object, looked up when a call is made (so importing touches no global), with the
//! request's timeout as an `AbortSignal`.

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::client::{HttpRequest, HttpResponse, TransportError};
use crate::platform::Platform;

/// `fetch` on the JS global object, looked up when a call is made.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fetch;

fn global_fn(name: &str) -> Result<Function, TransportError> {
    Reflect::get(&js_sys::global(), &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| TransportError::Unreachable(format!("this platform has no global `{name}`")))
}

fn sleep_promise(ms: u64) -> Promise {
    Promise::new(&mut |resolve, _| {
        if let Ok(set_timeout) = global_fn("setTimeout") {
            let _ = set_timeout.call2(&JsValue::NULL, &resolve, &JsValue::from_f64(ms as f64));
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    })
}

impl Platform for Fetch {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    /// The platform's CSPRNG (`crypto.getRandomValues`, through `getrandom`).
    fn fill_random(&self, out: &mut [u8]) {
        use rand_core::RngCore;
        rand_core::OsRng.fill_bytes(out);
    }

    async fn send(&self, r: HttpRequest) -> Result<HttpResponse, TransportError> {
        let unreachable = |_| TransportError::Unreachable(r.url.clone());
        let fetch = global_fn("fetch")?;
        let init = Object::new();
        let _ = Reflect::set(&init, &"method".into(), &r.method.into());
        if let Some(c) = r.content_type {
            let headers = Object::new();
            let _ = Reflect::set(&headers, &"content-type".into(), &c.into());
            let _ = Reflect::set(&init, &"headers".into(), &headers);
        }
        if r.method != "GET" {
            let _ = Reflect::set(&init, &"body".into(), &Uint8Array::from(r.body.as_slice()));
        }
        // A timeout aborts the request (AbortSignal.timeout exists in browsers and Node).
        if let Ok(signal_class) = Reflect::get(&js_sys::global(), &"AbortSignal".into()) {
            if let Some(timeout) =
                Reflect::get(&signal_class, &"timeout".into()).ok().and_then(|f| f.dyn_into::<Function>().ok())
            {
                if let Ok(signal) = timeout.call1(&signal_class, &JsValue::from_f64(r.timeout_ms as f64)) {
                    let _ = Reflect::set(&init, &"signal".into(), &signal);
                }
            }
        }
        let promise: Promise =
            fetch.call2(&JsValue::NULL, &r.url.as_str().into(), &init).map_err(unreachable)?.unchecked_into();
        let response = match JsFuture::from(promise).await {
            Ok(v) => v,
            Err(e) => {
                let name = Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
                return Err(if name == "TimeoutError" || name == "AbortError" {
                    TransportError::Timeout(r.timeout_ms)
                } else {
                    TransportError::Unreachable(r.url.clone())
                });
            }
        };
        let status = Reflect::get(&response, &"status".into()).ok().and_then(|s| s.as_f64()).unwrap_or(0.0) as u16;
        let retry_after_s = Reflect::get(&response, &"headers".into())
            .ok()
            .and_then(|h| {
                let get = Reflect::get(&h, &"get".into()).ok()?.dyn_into::<Function>().ok()?;
                get.call1(&h, &"retry-after".into()).ok()?.as_string()
            })
            .and_then(|v| v.trim().parse().ok());
        let array_buffer = Reflect::get(&response, &"arrayBuffer".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .ok_or_else(|| TransportError::Unreachable(r.url.clone()))?;
        let body_promise: Promise = array_buffer.call0(&response).map_err(unreachable)?.unchecked_into();
        let buffer = JsFuture::from(body_promise).await.map_err(unreachable)?;
        Ok(HttpResponse { status, retry_after_s, body: Uint8Array::new(&buffer).to_vec() })
    }

    async fn sleep(&self, ms: u64) {
        let _ = JsFuture::from(sleep_promise(ms)).await;
    }
}
