//! What a component is doing and how its last action went, shown above its page: the
//! last error (which the user can dismiss), a notice, and the work under way with a
//! progress bar. Each component keeps its own; none is shared.

use yew::prelude::*;

use crate::error::UiError;

#[derive(Debug, Default)]
pub struct Status {
    /// The work under way, as the user reads it.
    pub busy: Option<String>,
    pub error: Option<UiError>,
    pub notice: Option<String>,
}

impl Status {
    /// Work starts: a previous error no longer applies.
    pub fn start(&mut self, what: impl Into<String>) {
        self.busy = Some(what.into());
        self.error = None;
    }

    /// The work under way ended (however it went).
    pub fn done(&mut self) {
        self.busy = None;
    }

    /// The work under way failed with `e`.
    pub fn fail(&mut self, e: UiError) {
        self.busy = None;
        self.error = Some(e);
    }

    pub fn note(&mut self, notice: impl Into<String>) {
        self.notice = Some(notice.into());
    }

    pub fn is_busy(&self) -> bool {
        self.busy.is_some()
    }

    /// A tab page's line as it is shown again: cleared when `shown` turns on (as the
    /// pages did when the app drew them afresh). Returns whether the page redraws.
    pub fn reshown(&mut self, shown: bool, was_shown: bool) -> bool {
        if shown && !was_shown {
            self.clear();
        }
        true
    }

    /// Forgets the error and the notice (the user moved on).
    pub fn clear(&mut self) {
        self.error = None;
        self.notice = None;
    }

    /// The error (with its dismiss button), the notice and the busy line, in that order.
    pub fn view(&self, dismiss: Callback<MouseEvent>) -> Html {
        html! {
            <>
                if let Some(e) = &self.error {
                    <div class="alert" role="alert">
                        <span>{e.to_string()}</span>
                        <button class="link" aria-label="Dismiss" onclick={dismiss}>{"×"}</button>
                    </div>
                }
                if let Some(n) = &self.notice {
                    <div class="notice" role="status">{n}</div>
                }
                if let Some(b) = &self.busy {
                    <div class="busy" role="status" aria-live="polite">
                        <progress aria-label={b.clone()}></progress><span>{b}</span>
                    </div>
                }
            </>
        }
    }
}
