//! Downloaders (`curl`, `wget`, ...): what they write (checked like any write, and remembered as
//! downloaded, so running it later in the same command is download-and-execute), and whether their
//! output goes down the pipeline.

use super::Cmd;
use super::opts::{self, Spec, parse};
use crate::analyse::{Analyser, Frame, Produces};
use crate::expand::Field;

pub fn downloader(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
    an.note_download(c.name);
    match c.name {
        "curl" => curl(an, frame, c),
        "wget" => wget(an, frame, c),
        _ => Produces::Download(c.name.into()),
    }
}

fn curl(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
    let o = parse(
        c.args(),
        &Spec {
            short_args: "oDcHdXuAebFTwmxKrCEUzYyQt",
            long_args: &[
                "output",
                "dump-header",
                "cookie-jar",
                "header",
                "data",
                "data-raw",
                "data-binary",
                "data-urlencode",
                "request",
                "user",
                "user-agent",
                "referer",
                "cookie",
                "form",
                "upload-file",
                "write-out",
                "max-time",
                "proxy",
                "config",
                "range",
                "continue-at",
                "cert",
                "key",
                "cacert",
                "connect-timeout",
                "retry",
                "output-dir",
                "url",
            ],
            stop_at_operand: false,
        },
    );
    for (flag, f) in &o.values {
        if matches!(
            flag.as_str(),
            "-D" | "--dump-header" | "-c" | "--cookie-jar"
        ) {
            let v = opts::value_text(flag, f);
            if v.value() != Some("-") {
                an.write_target(&v, frame, &format!("curl {flag}"));
            }
        }
    }
    let outputs: Vec<Field> = o
        .values
        .iter()
        .filter(|(flag, _)| matches!(flag.as_str(), "-o" | "--output"))
        .map(|(flag, f)| opts::value_text(flag, f))
        .collect();
    let mut to_stdout = outputs.is_empty() || outputs.iter().any(|f| f.value() == Some("-"));
    for out in outputs.iter().filter(|f| f.value() != Some("-")) {
        an.write_target(out, frame, "curl -o");
        remember(frame, out, "curl");
    }
    if o.has(&["-O", "--remote-name", "--remote-name-all"]) {
        to_stdout = false;
        for url in &o.operands {
            if let Some(u) = url.value() {
                remember(frame, &Field::known(url_file_name(u)), "curl");
            }
        }
    }
    if to_stdout {
        Produces::Download("curl".into())
    } else {
        Produces::Other("curl".into())
    }
}

fn wget(an: &mut Analyser, frame: &mut Frame, c: &Cmd<'_>) -> Produces {
    let o = parse(
        c.args(),
        &Spec {
            short_args: "OoaPeUtTwQlARDIXiB",
            long_args: &[],
            stop_at_operand: false,
        },
    );
    for (flag, f) in &o.values {
        if matches!(
            flag.as_str(),
            "-o" | "-a" | "--output-file" | "--append-output"
        ) {
            an.write_target(&opts::value_text(flag, f), frame, &format!("wget {flag}"));
        }
    }
    if let Some(out) = o.value(&["-O", "--output-document"]) {
        let flag = if out.text.starts_with("--") {
            "--output-document"
        } else {
            "-O"
        };
        let out = opts::value_text(flag, out);
        if out.value() == Some("-") {
            return Produces::Download("wget".into());
        }
        an.write_target(&out, frame, "wget -O");
        remember(frame, &out, "wget");
        return Produces::Other("wget".into());
    }
    let dir = match o.value(&["-P", "--directory-prefix"]) {
        Some(d) => {
            let flag = if d.text.starts_with("--") {
                "--directory-prefix"
            } else {
                "-P"
            };
            let d = opts::value_text(flag, d);
            an.write_target(&d, frame, "wget -P");
            d.value().map(str::to_string)
        }
        None => Some(".".to_string()),
    };
    if let Some(dir) = dir {
        for url in &o.operands {
            if let Some(u) = url.value() {
                let file = format!("{}/{}", dir.trim_end_matches('/'), url_file_name(u));
                remember(frame, &Field::known(file), "wget");
            }
        }
    }
    Produces::Other("wget".into())
}

/// Records a downloaded file, so that running it later is recognised.
fn remember(frame: &mut Frame, f: &Field, by: &str) {
    if let Some(v) = f.value()
        && let Some(p) = frame.resolve(v)
    {
        frame.downloads.push((p, by.to_string()));
    }
}

/// The file name a downloader saves a URL as: its last path segment.
fn url_file_name(url: &str) -> String {
    let no_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path = no_scheme.split(['?', '#']).next().unwrap_or("");
    match path.split_once('/') {
        Some((_, p)) => match p.rsplit('/').next() {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => "index.html".into(),
        },
        None => "index.html".into(),
    }
}
