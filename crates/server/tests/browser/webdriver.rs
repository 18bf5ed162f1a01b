//! A small W3C WebDriver client over reqwest, driving Debian's `chromium` through
//! `chromedriver`: one chromedriver process and one headless browser per test, both ended
//! when the [`Browser`] is dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for the page to show something.
const WAIT: Duration = Duration::from_secs(20);
/// Between two looks at the page while waiting.
const POLL: Duration = Duration::from_millis(50);

/// A headless Chromium session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("local addr").port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile; panics with a pointer
    /// to the set-up script when either is missing (the browser tests never skip).
    pub async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: the browser tests need Debian's chromium and \
                 chromium-driver; run scripts/test.sh (or scripts/install-browser.sh) first"
            );
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        wait_ready(&http, &base).await;
        let profile = tempfile::tempdir().expect("profile dir");
        let session = new_session(&http, &base, profile.path()).await;
        Browser {
            driver,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("webdriver answers")
            .json()
            .await
            .expect("webdriver json");
        answer["value"].clone()
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        let value = self
            .call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
        assert!(value.is_null(), "navigating to {url}: {value}");
    }

    /// The address bar.
    pub async fn url(&self) -> String {
        let value = self.call(reqwest::Method::GET, "/url", None).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The element `css` selects, if it is there now.
    pub async fn find_now(&self, css: &str) -> Option<String> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self
            .call(reqwest::Method::POST, "/element", Some(body))
            .await;
        value[ELEMENT].as_str().map(str::to_owned)
    }

    /// Waits for the element `css` selects.
    pub async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(id) = self.find_now(css).await {
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}:\n{}",
                self.url().await,
                self.body_text().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        let value = self
            .call(
                reqwest::Method::POST,
                &format!("/element/{id}/click"),
                Some(json!({})),
            )
            .await;
        assert!(value.is_null(), "clicking {css}: {value}");
    }

    /// Types `text` into the field `css` selects (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        let value = self
            .call(
                reqwest::Method::POST,
                &format!("/element/{id}/value"),
                Some(json!({ "text": text })),
            )
            .await;
        assert!(value.is_null(), "typing into {css}: {value}");
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        let value = self
            .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The visible text of the whole page.
    pub async fn body_text(&self) -> String {
        let body = json!({ "using": "css selector", "value": "body" });
        let value = self
            .call(reqwest::Method::POST, "/element", Some(body))
            .await;
        let Some(id) = value[ELEMENT].as_str() else {
            return String::new();
        };
        let value = self
            .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the page's text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.body_text().await;
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never appeared on {}:\n{text}",
                self.url().await
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// What `js` (a function body) returns, run in the page.
    pub async fn script(&self, js: &str) -> Value {
        let body = json!({ "script": js, "args": [] });
        self.call(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// How many CSS pixels the page is wider than the window (0 when nothing overflows).
    pub async fn horizontal_overflow(&self) -> i64 {
        let value = self
            .script("const e = document.documentElement; return e.scrollWidth - e.clientWidth;")
            .await;
        value
            .as_i64()
            .unwrap_or_else(|| panic!("overflow: {value}"))
    }

    /// Sets the window's size (a phone, a laptop).
    pub async fn resize(&self, width: u32, height: u32) {
        let rect = json!({ "width": width, "height": height });
        self.call(reqwest::Method::POST, "/window/rect", Some(rect))
            .await;
    }

    /// Saves a PNG of the viewport to `dir/name.png` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let value = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().expect("screenshot data"))
            .expect("screenshot base64");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }
}

/// `$CARGO_TARGET_DIR/screenshots`, else `target/screenshots` at the workspace root.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let ready = match http.get(format!("{base}/status")).send().await {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(_) => None,
        };
        if ready.is_some_and(|v| v["value"]["ready"] == json!(true)) {
            return;
        }
        assert!(Instant::now() < deadline, "chromedriver never became ready");
        tokio::time::sleep(POLL).await;
    }
}

async fn new_session(http: &reqwest::Client, base: &str, profile: &Path) -> String {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ];
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let caps = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
    }}});
    let answer: Value = http
        .post(format!("{base}/session"))
        .json(&caps)
        .send()
        .await
        .expect("new session")
        .json()
        .await
        .expect("session json");
    answer["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("chromium did not start: {answer}"))
        .to_owned()
}
