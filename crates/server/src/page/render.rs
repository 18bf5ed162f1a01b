//! Turning a view model into a response, and the layout data every page shares.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::layout::LayoutHook;
use super::session::Session;
use super::views::Chrome;

/// Renders `page` with `status`; a template failure is logged and answered as a plain 500.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, page = std::any::type_name::<T>(), "page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "tether could not render this page",
            )
                .into_response()
        }
    }
}

/// The layout of a signed-in page.
pub fn chrome(session: &Session, title: &str, nav: &'static str) -> Chrome {
    Chrome {
        title: title.to_owned(),
        nav,
        signed_in: true,
        csrf: session.csrf.clone(),
        notice: None,
        demo: session.layout.as_ref().map(LayoutHook::panel),
    }
}

/// A path inside tether, or `/`: never another origin. Browsers drop tabs and newlines from
/// URLs and read `\` as `/`, so `/\t/evil.example` means `//evil.example`; any control
/// character, whitespace or backslash refuses the path, and it must start with one `/`
/// followed by something other than `/`.
pub fn local_path(raw: &str) -> &str {
    let mut chars = raw.chars();
    let rooted = chars.next() == Some('/') && chars.next() != Some('/');
    let clean = !raw
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if rooted && clean { raw } else { "/" }
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

    #[test]
    fn local_path_refuses_the_whitespace_and_control_character_tricks() {
        assert_eq!(local_path("/"), "/");
        assert_eq!(local_path("/connections"), "/connections");
        for trick in [
            "/\t/evil.example",
            "/\r/evil.example",
            "/\n/evil.example",
            "/\t\\evil.example",
            "\t//evil.example",
            " //evil.example",
            "/ /evil.example",
            "/\u{0}/evil.example",
            "/\u{7f}/evil.example",
            "/\u{a0}/evil.example",
            "/\u{2028}/evil.example",
            "\\\\evil.example",
            "/x\\y",
            "///evil.example",
            "evil.example",
            "javascript:alert(1)",
        ] {
            assert_eq!(local_path(trick), "/", "{trick:?}");
        }
    }
}
