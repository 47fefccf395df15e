//! `tend:plugin/http`: outbound HTTP performed by the host. The URL's host and port are checked
//! against the plugin's allowlist before any connection is made; redirects are not followed (the
//! plugin sees the 3xx and may ask again, through the same check); the timeout never exceeds the
//! call's remaining time; the body is read up to `max_response_bytes` and refused beyond.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::plugins::bindings::host::tend::plugin::http::{self, Error, Request, Response};
use crate::plugins::sandbox::CallState;

/// The client every plugin call shares: no proxy from the environment (the allowlist is about the
/// host actually reached), no redirects, no cookies.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tend-plugin/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

impl http::Host for CallState {
    async fn send(&mut self, request: Request) -> Result<Response, Error> {
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| Error::Invalid(format!("url {:?}: {e}", request.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Invalid(format!(
                "scheme {:?} is not http or https",
                url.scheme()
            )));
        }
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Err(Error::Invalid(format!("url {:?} has no host", request.url)));
        };
        if !self
            .ctx
            .grants
            .permits(host, port, self.ctx.target.as_ref())
        {
            let what = format!("http {host}:{port} is not on the plugin's allowlist");
            self.deny(what.clone());
            return Err(Error::Denied(what));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| Error::Invalid(format!("method {:?}", request.method)))?;
        let mut headers = HeaderMap::new();
        for (k, v) in &request.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| Error::Invalid(format!("header name {k:?}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| Error::Invalid(format!("header {k} value")))?;
            headers.append(name, value);
        }
        let asked = if request.timeout_ms == 0 {
            Duration::MAX
        } else {
            Duration::from_millis(request.timeout_ms.into())
        };
        let budget = asked.min(self.remaining());
        if budget.is_zero() {
            return Err(Error::Timeout);
        }
        let mut builder = self.ctx.shared.http.request(method, url).headers(headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let cap = self.ctx.max_response_bytes;
        match tokio::time::timeout(budget, exchange(builder, cap)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout),
        }
    }
}

async fn exchange(builder: reqwest::RequestBuilder, cap: u64) -> Result<Response, Error> {
    let started = std::time::Instant::now();
    let mut resp = builder.send().await.map_err(transport)?;
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(Error::TooLarge);
    }
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if (body.len() + chunk.len()) as u64 > cap {
            return Err(Error::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body,
        elapsed_ms: started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32,
    })
}

fn transport(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout
    } else {
        // The chain names the cause ("connection refused"); the top level only says "error sending request".
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg = format!("{msg}: {s}");
            source = s.source();
        }
        Error::Connect(msg)
    }
}
