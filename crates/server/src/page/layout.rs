//! What a host program adds to every page's layout.

use std::fmt;
use std::sync::Arc;

use super::views::DemoPanel;

/// A panel shown at the top of every signed-in page, drawn afresh for each request. The host
/// program (`tether demo`) puts it in each request's extensions with an `axum::Extension`
/// layer; [`super::Session`] picks it up.
#[derive(Clone)]
pub struct LayoutHook(Arc<dyn Fn() -> DemoPanel + Send + Sync>);

impl LayoutHook {
    pub fn new(panel: impl Fn() -> DemoPanel + Send + Sync + 'static) -> Self {
        Self(Arc::new(panel))
    }

    /// The panel as of now.
    pub fn panel(&self) -> DemoPanel {
        (self.0)()
    }
}

impl fmt::Debug for LayoutHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LayoutHook")
    }
}
