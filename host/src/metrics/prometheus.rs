//! The Prometheus text exposition format (version 0.0.4): families with `# HELP` and `# TYPE`, label
//! values escaped, histograms with cumulative `le` buckets, summaries as `_sum` and `_count` only. Knows
//! nothing about where figures come from.

use std::fmt::Write;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Gauge,
    Counter,
    Histogram,
    /// Only `_sum` and `_count` series (no quantiles): a total and how many observations made it.
    Summary,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Gauge => "gauge",
            Type::Counter => "counter",
            Type::Histogram => "histogram",
            Type::Summary => "summary",
        }
    }
}

/// One metric family being written; samples follow its header.
pub struct Family<'a> {
    out: &'a mut String,
    name: String,
}

/// The whole exposition.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a family: writes its `# HELP` and `# TYPE` lines.
    pub fn family(&mut self, name: impl Into<String>, kind: Type, help: &str) -> Family<'_> {
        let name = name.into();
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        Family {
            out: &mut self.out,
            name,
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

impl Family<'_> {
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.sample_suffixed("", labels, value)
    }

    /// A summary series without quantiles: the sum and the count of the observations.
    pub fn summary(&mut self, labels: &[(&str, &str)], sum: f64, count: u64) -> &mut Self {
        self.sample_suffixed("_sum", labels, sum);
        self.sample_suffixed("_count", labels, count as f64)
    }

    fn sample_suffixed(&mut self, suffix: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(&self.name);
        self.out.push_str(suffix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", format_value(value));
        self
    }

    /// A histogram series: `counts[i]` observations fell into the bucket with upper bound
    /// `bounds[i]`; a last count (if any) is the observations above every bound. No `_sum` is written
    /// when `sum` is `None` (the source does not know it).
    pub fn histogram(
        &mut self,
        labels: &[(&str, &str)],
        bounds: &[f64],
        counts: &[u64],
        sum: Option<f64>,
    ) -> &mut Self {
        let mut cumulative = 0u64;
        for (bound, count) in bounds.iter().zip(counts) {
            cumulative += count;
            let le = format_value(*bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample_suffixed("_bucket", &with_le, cumulative as f64);
        }
        let total: u64 = counts.iter().sum();
        let mut with_le = labels.to_vec();
        with_le.push(("le", "+Inf"));
        self.sample_suffixed("_bucket", &with_le, total as f64);
        if let Some(sum) = sum {
            self.sample_suffixed("_sum", labels, sum);
        }
        self.sample_suffixed("_count", labels, total as f64)
    }
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Help text escapes backslash and line feed.
fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_escaped() {
        let mut e = Exposition::default();
        e.family("tend_x", Type::Gauge, "Line one\nwith a \\ backslash")
            .sample(&[("service", "a\"b\\c\nd")], 1.5)
            .sample(&[], f64::INFINITY);
        e.family("tend_h_seconds", Type::Histogram, "Latency.")
            .histogram(&[("plugin", "p")], &[0.001, 0.01], &[2, 3, 1], None);
        let text = e.finish();
        assert_eq!(
            text,
            "# HELP tend_x Line one\\nwith a \\\\ backslash\n# TYPE tend_x gauge\n\
             tend_x{service=\"a\\\"b\\\\c\\nd\"} 1.5\ntend_x +Inf\n\
             # HELP tend_h_seconds Latency.\n# TYPE tend_h_seconds histogram\n\
             tend_h_seconds_bucket{plugin=\"p\",le=\"0.001\"} 2\n\
             tend_h_seconds_bucket{plugin=\"p\",le=\"0.01\"} 5\n\
             tend_h_seconds_bucket{plugin=\"p\",le=\"+Inf\"} 6\n\
             tend_h_seconds_count{plugin=\"p\"} 6\n"
        );
    }

    #[test]
    fn summaries_are_a_sum_and_a_count() {
        let mut e = Exposition::default();
        e.family("tend_s_seconds", Type::Summary, "Time.")
            .summary(&[("m", "a")], 1.5, 3);
        assert_eq!(
            e.finish(),
            "# HELP tend_s_seconds Time.\n# TYPE tend_s_seconds summary\n\
             tend_s_seconds_sum{m=\"a\"} 1.5\ntend_s_seconds_count{m=\"a\"} 3\n"
        );
    }
}
