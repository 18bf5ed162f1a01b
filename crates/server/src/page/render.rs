//! Turning a view model into a response, and the layout data every page shares.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::session::Session;
use super::views::Chrome;
use crate::state::AppState;

/// Renders `page` with `status`; a template failure is logged and answered as a plain 500.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "tether could not render this page",
            )
                .into_response()
        }
    }
}

/// The layout of a signed-in page.
pub fn chrome(state: &AppState, session: &Session, title: &str, nav: &'static str) -> Chrome {
    Chrome {
        title: title.to_owned(),
        nav,
        signed_in: true,
        csrf: session.csrf.clone(),
        notice: None,
        demo: state.demo.as_ref().map(|d| d.panel()),
    }
}

/// A path inside tether, or `/`: never another origin (`//host`, `https://...`).
pub fn local_path(raw: &str) -> &str {
    let local = raw.starts_with('/') && !raw.starts_with("//") && !raw.contains('\\');
    if local { raw } else { "/" }
}

/// The fixed texts of `?notice=`; anything else shows nothing.
pub fn notice_text(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "connected" => "Connected. The account is linked and tether keeps it alive.",
        "reconnected" => "Reconnected: the same connection is Active again.",
        "checked" => "Checked with Salesforce just now; the status below is what it answered.",
        "saved" => "Connector saved.",
        "clock" => {
            "The demo clock moved forward. Press Check now on a connection to see what Salesforce says."
        }
        "policy" => "The sandbox Connected App's policy changed; it applies at the next refresh.",
        _ => return None,
    };
    Some(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_path_keeps_paths_and_refuses_other_origins() {
        assert_eq!(
            local_path("/connections/conn_1?x=1"),
            "/connections/conn_1?x=1"
        );
        assert_eq!(local_path("//evil.example/x"), "/");
        assert_eq!(local_path("https://evil.example"), "/");
        assert_eq!(local_path("/\\evil.example"), "/");
        assert_eq!(local_path(""), "/");
    }
}
