//! Signing in and out, the session cookie, and the refusal of every form that is not the
//! page's own.

use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::visitor::{Session, Visitor, set_cookies};

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_strict_and_holds_no_api_key() {
    let (visitor, session) = Visitor::signed_in().await;
    let session_line = &session.0;
    assert!(
        session_line.contains("; HttpOnly; SameSite=Strict"),
        "{session_line}"
    );
    assert!(
        !session_line.contains("Secure"),
        "http public URL: {session_line}"
    );
    assert!(
        session_line.contains("; Path=/; Max-Age=43200"),
        "{session_line}"
    );
    let secret_half = visitor.app.api_key.rsplit('_').next().unwrap();
    assert!(!session_line.contains(secret_half));
    let page = visitor.get(&session, "/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("No connections yet."));
}

/// Stands for the app's API key in a [`Post`]'s fields.
const API_KEY: &str = "{api key}";
/// Stands for tether's own origin (its public URL) in a [`Post`]'s headers.
const TETHER: &str = "{tether}";

/// The cookie and CSRF field a form post carries.
#[derive(Clone, Copy)]
enum Carries {
    /// No cookie, and this CSRF field.
    NoCookie(&'static str),
    /// The session's cookie, and this CSRF field.
    Session(&'static str),
    /// The sign-in form's own cookie and CSRF field.
    SignInForm,
}

/// One form post and what tether answers it.
struct Post {
    case: &'static str,
    path: &'static str,
    carries: Carries,
    /// The fields after `csrf`.
    fields: &'static [(&'static str, &'static str)],
    headers: &'static [(&'static str, &'static str)],
    status: StatusCode,
    /// A sentence the answer says.
    says: Option<&'static str>,
    /// The answer sets no cookie.
    sets_no_cookie: bool,
}

const SIGN_IN_FIELDS: &[(&str, &str)] = &[("api_key", API_KEY), ("next", "/")];

const POSTS: &[Post] = &[
    Post {
        case: "a form with the wrong CSRF token",
        path: "/connectors/salesforce/connect",
        carries: Carries::Session("forged"),
        fields: &[("end_user_id", "u-1")],
        headers: &[],
        status: StatusCode::FORBIDDEN,
        says: Some("This form was not sent from tether&#39;s own page, so nothing was changed."),
        sets_no_cookie: false,
    },
    Post {
        case: "the sign-in form without its double-submit cookie",
        path: "/login",
        carries: Carries::NoCookie("anything"),
        fields: SIGN_IN_FIELDS,
        headers: &[],
        status: StatusCode::FORBIDDEN,
        says: None,
        sets_no_cookie: true,
    },
    Post {
        case: "a post whose origin is another site, before the session is read",
        path: "/logout",
        carries: Carries::NoCookie("x"),
        fields: &[],
        headers: &[("origin", "http://attacker.example")],
        status: StatusCode::FORBIDDEN,
        says: None,
        sets_no_cookie: false,
    },
    // A form post is checked against the public URL's origin, not the Host header.
    Post {
        case: "the sign-in form from tether's public URL origin",
        path: "/login",
        carries: Carries::SignInForm,
        fields: SIGN_IN_FIELDS,
        headers: &[("origin", TETHER)],
        status: StatusCode::SEE_OTHER,
        says: None,
        sets_no_cookie: false,
    },
    Post {
        case: "the sign-in form from another origin that a Host header agrees with",
        path: "/login",
        carries: Carries::SignInForm,
        fields: SIGN_IN_FIELDS,
        headers: &[
            ("host", "attacker.example"),
            ("origin", "http://attacker.example"),
        ],
        status: StatusCode::FORBIDDEN,
        says: None,
        sets_no_cookie: false,
    },
    Post {
        case: "the sign-in form from another origin",
        path: "/login",
        carries: Carries::SignInForm,
        fields: SIGN_IN_FIELDS,
        headers: &[("origin", "http://localhost:1")],
        status: StatusCode::FORBIDDEN,
        says: None,
        sets_no_cookie: false,
    },
];

impl Visitor {
    /// `value` with [`API_KEY`] and [`TETHER`] filled in.
    fn fill(&self, value: &str) -> String {
        match value {
            API_KEY => self.app.api_key.clone(),
            TETHER => self.app.tether.base.trim_end_matches('/').to_owned(),
            _ => value.to_owned(),
        }
    }

    /// Sends `post` (with `session`'s cookie where it carries one).
    async fn send(&self, session: &Session, post: &Post) -> reqwest::Response {
        let (cookie, csrf) = match post.carries {
            Carries::NoCookie(csrf) => (None, csrf.to_owned()),
            Carries::Session(csrf) => (Some(session.cookie()), csrf.to_owned()),
            Carries::SignInForm => {
                let (cookie, csrf) = self.sign_in_form().await;
                (Some(cookie), csrf)
            }
        };
        let fields: Vec<(&str, String)> = post
            .fields
            .iter()
            .map(|(name, value)| (*name, self.fill(value)))
            .collect();
        let headers: Vec<(&str, String)> = post
            .headers
            .iter()
            .map(|(name, value)| (*name, self.fill(value)))
            .collect();
        let form: Vec<(&str, &str)> = std::iter::once(("csrf", csrf.as_str()))
            .chain(fields.iter().map(|(name, value)| (*name, value.as_str())))
            .collect();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        self.send_form(post.path, cookie.as_deref(), &headers, &form)
            .await
    }
}

#[tokio::test]
async fn forms_not_sent_from_tethers_own_page_are_refused() {
    let (visitor, session) = Visitor::signed_in().await;
    for post in POSTS {
        let case = post.case;
        let response = visitor.send(&session, post).await;
        assert_eq!(response.status(), post.status, "{case}");
        if post.sets_no_cookie {
            assert!(
                set_cookies(&response).is_empty(),
                "{case}: a cookie was set"
            );
        }
        if let Some(says) = post.says {
            let body = response.text().await.unwrap();
            assert!(body.contains(says), "{case}: {body}");
        }
    }
}

#[tokio::test]
async fn signing_out_ends_that_session_for_a_copied_cookie_and_leaves_other_sessions_signed_in() {
    let (visitor, mine) = Visitor::signed_in().await;
    let colleague = visitor.sign_in().await;
    let csrf = visitor.csrf(&mine, "/").await;

    let out = visitor.post(&mine, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/login");

    // The browser forgot the cookie; a copy of it no longer signs anyone in.
    let replayed = visitor.get(&mine, "/").await;
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
    assert_eq!(replayed.headers()[LOCATION], "/login?next=%2F");
    assert_eq!(visitor.get(&colleague, "/").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_signed_out_visit_redirects_to_sign_in_and_comes_back_after() {
    let visitor = Visitor::start().await;
    let response = visitor.get_signed_out("/connectors/salesforce").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/login?next=%2Fconnectors%2Fsalesforce"
    );
    let form = visitor.get_signed_out("/login?next=//evil.example").await;
    let html = form.text().await.unwrap();
    assert!(html.contains("name=\"next\" value=\"/\""), "{html}");
}

#[tokio::test]
async fn a_cross_site_arrival_without_the_cookie_reloads_once_from_tether() {
    let visitor = Visitor::start().await;
    let response = visitor
        .http
        .get(visitor.app.url("/connections/conn_x?notice=reconnected"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("content=\"0;url=/connections/conn_x?notice=reconnected\""),
        "{html}"
    );
}

#[tokio::test]
async fn the_demo_routes_do_not_exist_outside_the_demo() {
    let (visitor, session) = Visitor::signed_in().await;
    let csrf = visitor.csrf(&session, "/").await;
    let form = [("csrf", csrf.as_str()), ("advance", "day")];
    let response = visitor.post(&session, "/demo/clock", &form).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let once = visitor.get_signed_out("/login/once/abc").await;
    assert_eq!(once.status(), StatusCode::NOT_FOUND);
    let page = visitor.html(&session, "/").await;
    assert!(!page.contains("Simulate time"));
}
