//! End-to-end tests of the connectors page in a real headless Chromium (Debian's `chromium`
//! through `chromedriver`, installed by `scripts/install-browser.sh`), against tether and the
//! sandbox's real login and Allow pages. Screenshots go to `$CARGO_TARGET_DIR/screenshots/`
//! (else `target/screenshots/`). The page's checks that need no browser are the `page` tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod flows;
mod injection;
mod webdriver;
