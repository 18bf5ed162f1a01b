//! End-to-end tests of the connectors page in a real headless Chromium (Debian's `chromium`
//! through `chromedriver`, installed by `scripts/install-browser.sh`), against tether and the
//! sandbox's real login and Allow pages. Screenshots go to `$CARGO_TARGET_DIR/screenshots/`
//! (else `target/screenshots/`). `http` checks the page's cookies and refusals without a
//! browser.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod app;
mod flows;
mod http;
mod injection;
mod webdriver;
mod webhooks_page;
