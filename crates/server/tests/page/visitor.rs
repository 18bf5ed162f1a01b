//! A visitor of the page over plain HTTP: signs in through the form and sends, on every
//! request, exactly the cookies the test means it to.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use tether_testkit::{TestApp, http_client, spawn_app};

/// The test app and a client that keeps no cookies and follows no redirects.
pub struct Visitor {
    pub app: TestApp,
    pub http: reqwest::Client,
}

/// A signed-in session: the `Set-Cookie` line that started it.
pub struct Session(pub String);

impl Session {
    /// The `name=value` a browser sends back.
    pub fn cookie(&self) -> String {
        self.0.split(';').next().unwrap().to_owned()
    }
}

/// The value of the first `name="csrf"` field of a page.
pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The `Set-Cookie` lines of an answer.
pub fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

impl Visitor {
    /// A fresh test app and its visitor.
    pub async fn start() -> Visitor {
        Visitor {
            app: spawn_app().await,
            http: http_client(false),
        }
    }

    /// A fresh test app and its visitor, signed in.
    pub async fn signed_in() -> (Visitor, Session) {
        let visitor = Visitor::start().await;
        let session = visitor.sign_in().await;
        (visitor, session)
    }

    /// `GET path` with no cookie.
    pub async fn get_signed_out(&self, path: &str) -> reqwest::Response {
        self.http.get(self.app.url(path)).send().await.unwrap()
    }

    /// The sign-in form's cookie (`name=value`) and its CSRF field.
    pub async fn sign_in_form(&self) -> (String, String) {
        let form = self.get_signed_out("/login").await;
        let login_cookie = set_cookies(&form)[0].split(';').next().unwrap().to_owned();
        (login_cookie, csrf_of(&form.text().await.unwrap()))
    }

    /// Posts `form` to `path` with `cookie` (`name=value`) and `headers`, as they are.
    pub async fn send_form(
        &self,
        path: &str,
        cookie: Option<&str>,
        headers: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.post(self.app.url(path));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.form(form).send().await.unwrap()
    }

    /// Posts the sign-in form with the app's API key, its cookie and `headers` added.
    pub async fn post_sign_in(&self, headers: &[(&str, &str)]) -> reqwest::Response {
        let (login_cookie, csrf) = self.sign_in_form().await;
        let form = [
            ("csrf", csrf.as_str()),
            ("api_key", &self.app.api_key),
            ("next", "/"),
        ];
        self.send_form("/login", Some(&login_cookie), headers, &form)
            .await
    }

    /// Signs in through the form; the new session.
    pub async fn sign_in(&self) -> Session {
        let response = self.post_sign_in(&[]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        Session(
            set_cookies(&response)
                .into_iter()
                .find(|c| c.starts_with("tether_session="))
                .expect("a session cookie"),
        )
    }

    /// The page at `path` with the session cookie.
    pub async fn get(&self, session: &Session, path: &str) -> reqwest::Response {
        self.http
            .get(self.app.url(path))
            .header(COOKIE, session.cookie())
            .send()
            .await
            .unwrap()
    }

    /// The HTML of the page at `path` with the session cookie.
    pub async fn html(&self, session: &Session, path: &str) -> String {
        self.get(session, path).await.text().await.unwrap()
    }

    /// The CSRF field of the page at `path` with the session cookie.
    pub async fn csrf(&self, session: &Session, path: &str) -> String {
        csrf_of(&self.html(session, path).await)
    }

    /// Posts `form` to `path` with the session cookie.
    pub async fn post(
        &self,
        session: &Session,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.send_form(path, Some(&session.cookie()), &[], form)
            .await
    }

    /// Posts the connector form of `name` as a person editing it would: the page's CSRF
    /// field, then `fields` over the defaults (the sandbox app, no secret, scope `api`).
    pub async fn save_connector(
        &self,
        session: &Session,
        name: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = self.csrf(session, &format!("/connectors/{name}")).await;
        let defaults = [
            ("csrf", csrf.as_str()),
            ("name", name),
            ("client_id", tether_testkit::CLIENT_ID),
            ("client_secret", ""),
            ("login_host", "custom"),
            ("custom_login_url", &self.app.sandbox_base),
            ("scopes", "api"),
        ];
        let mut form: Vec<(&str, &str)> = defaults
            .into_iter()
            .filter(|(key, _)| fields.iter().all(|(field, _)| field != key))
            .collect();
        form.extend_from_slice(fields);
        self.post(session, "/connectors", &form).await
    }
}
