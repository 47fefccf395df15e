//! Nothing lost, bounded growth: log lines a SIGKILLed daemon had not stored yet are re-ingested from
//! the service log files at the next boot, so the API and the files agree.

use std::path::Path;

use tend_tests::{Daemon, secs, wait_for};

/// The texts of every record in a service's log files (rotated ones first, oldest first).
fn file_lines(dir: &Path, service: &str) -> Vec<String> {
    let base = dir
        .join("logs")
        .join(service)
        .join(format!("{service}.log"));
    let mut files = vec![base.clone()];
    for n in 1.. {
        let rotated = base.with_extension(format!("log.{n}"));
        if !rotated.is_file() {
            break;
        }
        files.push(rotated);
    }
    files.reverse();
    let mut lines = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for record in text.lines() {
            // `<time> <stream>[+] <text>`
            let mut parts = record.splitn(3, ' ');
            let (Some(_time), Some(_stream), Some(text)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            lines.push(text.to_string());
        }
    }
    lines
}

const BURST: u32 = 300_000;

#[test]
fn log_lines_a_sigkill_lost_are_reingested_from_the_files_at_boot() {
    let mut d = Daemon::start();
    let done = d.scratch().join("burst-done");
    // One burst of 300k lines (about 25 MB with the record prefixes, so the file rotates twice), once:
    // the restarted service prints nothing.
    let script = format!(
        "if [ ! -e {done} ]; then seq -f 'burst line %06g with some padding to make it longer' 1 {BURST}; touch {done}; fi; exec sleep 1000",
        done = done.display()
    );
    d.create(&d.service("burst", script.as_str()));
    let last = format!("burst line {BURST:06} with some padding to make it longer");
    let log = d.data_dir().join("logs/burst/burst.log");
    // The moment the file has the last line, the database writer is still far behind.
    wait_for(secs(60), || {
        let text = std::fs::read(&log).map_err(|e| e.to_string())?;
        let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(200)..]).into_owned();
        if tail.contains(&last) {
            Ok(())
        } else {
            Err(format!("file ends with {tail:?}"))
        }
    })
    .unwrap();
    d.kill9();
    let in_files = file_lines(d.data_dir(), "burst");
    assert_eq!(in_files.len(), BURST as usize, "the file keeps every line");

    d.restart();
    let api: Vec<String> = d
        .all_logs("burst")
        .iter()
        .map(|l| l["line"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        api.len(),
        in_files.len(),
        "lines in the API after the restart vs lines in the files"
    );
    assert!(api == in_files, "the API's lines differ from the files'");
    let reingested = std::fs::read_to_string(d.data_dir().join("tend.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("re-ingested"))
        .map(str::to_string)
        .collect::<Vec<_>>();
    eprintln!("figure: {reingested:?}");
}
