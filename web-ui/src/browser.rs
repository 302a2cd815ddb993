//! What the pages ask of the browser besides storage: the values of form fields, the
//! clock, this page's origin, and files saved as downloads. Nothing here decides
//! anything (that is `model`'s).

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::NodeRef;

use vigil_wallet::fetch::Fetch;
use vigil_wallet::platform::Platform;

use crate::error::UiError;

/// The text of an input or a textarea (empty if the field is not rendered).
pub fn value(field: &NodeRef) -> String {
    if let Some(i) = field.cast::<HtmlInputElement>() {
        return i.value();
    }
    field.cast::<HtmlTextAreaElement>().map(|t| t.value()).unwrap_or_default()
}

/// The text of the input an event came from (a checkbox's: `true` or `false`).
pub fn event_value(e: &web_sys::Event) -> String {
    e.target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        .map(|i| if i.type_() == "checkbox" { i.checked().to_string() } else { i.value() })
        .unwrap_or_default()
}

/// Empties an input or a textarea.
pub fn clear(field: &NodeRef) {
    if let Some(i) = field.cast::<HtmlInputElement>() {
        i.set_value("");
    } else if let Some(t) = field.cast::<HtmlTextAreaElement>() {
        t.set_value("");
    }
}

/// The values of the checked checkboxes named `name` inside `form`.
pub fn checked(form: &NodeRef, name: &str) -> Vec<String> {
    let Some(form) = form.cast::<web_sys::Element>() else { return Vec::new() };
    let Ok(boxes) = form.query_selector_all(&format!("input[name={name}]:checked")) else { return Vec::new() };
    (0..boxes.length())
        .filter_map(|i| boxes.item(i).and_then(|n| n.dyn_into::<HtmlInputElement>().ok()))
        .map(|b| b.value())
        .collect()
}

/// The file chosen in a file input, if any.
pub fn chosen_file(field: &NodeRef) -> Option<gloo::file::File> {
    let file = field.cast::<HtmlInputElement>()?.files()?.get(0)?;
    Some(gloo::file::File::from(file))
}

/// The platform's clock, in milliseconds.
pub fn now_ms() -> u64 {
    Fetch.now_ms()
}

/// The origin that served this page (the default gateway).
pub fn origin() -> String {
    web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
}

/// What a browser call's exception says.
pub fn reason(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => String::from(err.message()),
        None => e.as_string().unwrap_or_else(|| "refused".to_string()),
    }
}

/// Saves `bytes` as a download named `name`.
pub fn save_bytes(name: &str, bytes: &[u8]) -> Result<(), UiError> {
    let array = js_sys::Uint8Array::from(bytes);
    save(name, &js_sys::Array::of1(&array), "application/octet-stream")
}

/// Saves `text` (JSON) as a download named `name`.
pub fn save_json(name: &str, text: &str) -> Result<(), UiError> {
    save(name, &js_sys::Array::of1(&text.into()), "application/json")
}

/// The error of a browser call that refused to `what`.
fn refused(what: &'static str) -> impl Fn(JsValue) -> UiError {
    move |e| UiError::Browser(format!("the browser cannot {what} ({})", reason(&e)))
}

fn save(name: &str, parts: &js_sys::Array, mime: &str) -> Result<(), UiError> {
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(parts, &opts).map_err(refused("make a file"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(refused("make a link to it"))?;
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| UiError::Browser("the page has no document".to_string()))?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")
        .map_err(refused("make a link"))?
        .dyn_into()
        .map_err(|_| UiError::Browser("the browser cannot make a link".to_string()))?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // The download has started; the object URL is not needed any more (a failure to
    // revoke it only keeps the blob until the tab closes).
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}
