//! `tend dashboard [--no-open]`: asks the daemon for a one-time sign-in code and prints the link
//! `<daemon URL>/login#code=<code>` (in the fragment, which a browser never sends to a server, so it
//! is in no log); opens it with `xdg-open` where a display is available. The CLI is a process of its
//! own (as for `$EDITOR`), so it may start one; it never waits for the browser.

use std::process::Stdio;

use reqwest::{Method, Url};

use super::client::CliError;
use super::commands::{Ctx, out};
use crate::wire::SignInCode;

#[derive(Clone, Debug, clap::Args)]
pub struct DashboardArgs {
    /// Only print the link; never open a browser
    #[arg(long)]
    pub no_open: bool,
}

/// The sign-in link for `code` on the daemon at `base`. A daemon listening on every address is
/// reached through loopback (browsers refuse `0.0.0.0`).
pub fn login_link(base: &Url, code: &str) -> String {
    let mut url = base.clone();
    if url
        .host_str()
        .is_some_and(|h| h == "0.0.0.0" || h == "[::]")
    {
        let _ = url.set_host(Some("127.0.0.1"));
    }
    let path = format!("{}/login", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(Some(&format!("code={code}")));
    url.to_string()
}

/// Whether a graphical session is there to show a browser.
fn has_display(var: impl Fn(&str) -> Option<String>) -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|k| var(k).is_some_and(|v| !v.is_empty()))
}

/// Starts `xdg-open link` detached from our terminal; `false` when it cannot be started.
fn open(link: &str) -> bool {
    std::process::Command::new("xdg-open")
        .arg(link)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        // Not waited for: a browser started in the foreground would hold the CLI until it closes.
        .map(drop)
        .is_ok()
}

pub async fn run(ctx: &Ctx, args: &DashboardArgs) -> Result<(), CliError> {
    let answer = ctx
        .client
        .send(Method::POST, &["api", "sessions", "code"], None)
        .await?;
    let code: SignInCode = answer.parse()?;
    let link = login_link(ctx.client.base_url(), &code.code);
    let opened = !args.no_open && has_display(|k| std::env::var(k).ok()) && open(&link);
    if ctx.json {
        let doc = serde_json::json!({
            "url": link,
            "expires_at": code.expires_at,
            "opened": opened,
        });
        return out(&format!("{doc}\n"));
    }
    // The link alone on stdout (for scripts); the explanation on stderr.
    eprintln!(
        "Sign in to the dashboard with this link (works once, until {}){}:",
        code.expires_at,
        if opened {
            "; opening it in your browser"
        } else {
            ""
        }
    );
    out(&format!("{link}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_goes_in_the_fragment() {
        let base = Url::parse("http://127.0.0.1:9900").unwrap();
        assert_eq!(
            login_link(&base, "abc"),
            "http://127.0.0.1:9900/login#code=abc"
        );
        let prefixed = Url::parse("https://box.lan/tend/?x=1").unwrap();
        assert_eq!(
            login_link(&prefixed, "abc"),
            "https://box.lan/tend/login#code=abc"
        );
        let everywhere = Url::parse("http://0.0.0.0:9900/").unwrap();
        assert_eq!(
            login_link(&everywhere, "c"),
            "http://127.0.0.1:9900/login#code=c"
        );
    }

    #[test]
    fn a_display_is_needed_to_open_a_browser() {
        assert!(!has_display(|_| None));
        assert!(!has_display(|_| Some(String::new())));
        assert!(has_display(|k| (k == "WAYLAND_DISPLAY").then(|| "w".into())));
        assert!(has_display(|k| (k == "DISPLAY").then(|| ":0".into())));
    }
}
