//! The figures table every `cargo xtask bench ...` prints: figure, value, goal and whether it was met.

pub(super) enum Goal {
    Below(f64, f64, &'static str),
    Above(f64, f64, &'static str),
    Zero(u64),
    None,
}

impl Goal {
    pub(super) fn describe(&self) -> String {
        match self {
            Goal::Below(_, limit, unit) => format!("< {limit} {unit}"),
            Goal::Above(_, limit, unit) => format!("> {limit} {unit}"),
            Goal::Zero(_) => "0".into(),
            Goal::None => "-".into(),
        }
    }

    pub(super) fn met(&self) -> Option<bool> {
        match *self {
            Goal::Below(v, limit, _) => Some(v < limit),
            Goal::Above(v, limit, _) => Some(v > limit),
            Goal::Zero(v) => Some(v == 0),
            Goal::None => None,
        }
    }
}

pub(super) struct Row {
    pub(super) figure: String,
    pub(super) value: String,
    pub(super) goal: Goal,
}

impl Row {
    pub(super) fn new(figure: impl Into<String>, value: String, goal: Goal) -> Row {
        Row {
            figure: figure.into(),
            value,
            goal,
        }
    }
}

pub(super) fn print_table(rows: &[Row]) {
    let w0 = rows.iter().map(|r| r.figure.len()).max().unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.value.len())
        .max()
        .unwrap_or(0)
        .max("value".len());
    println!();
    println!("{:w0$}  {:>w1$}  {:10}  result", "figure", "value", "goal");
    for r in rows {
        let verdict = match r.goal.met() {
            Some(true) => "ok",
            Some(false) => "MISSED",
            None => "",
        };
        println!(
            "{:w0$}  {:>w1$}  {:10}  {verdict}",
            r.figure,
            r.value,
            r.goal.describe()
        );
    }
    println!();
}

/// Writes `target/bench/<name>.json` (the figures in `report` plus every row's goal and verdict), says
/// where and how long the bench took, and how many goals were missed; answers that number.
pub(super) fn write_report(
    name: &str,
    mut report: serde_json::Value,
    rows: &[Row],
    started: std::time::Instant,
) -> anyhow::Result<usize> {
    let goals: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!({"figure": r.figure, "value": r.value,
                "goal": r.goal.describe(), "met": r.goal.met()})
        })
        .collect();
    if let Some(obj) = report.as_object_mut() {
        obj.insert("goals".into(), goals.into());
    }
    let out = crate::target_dir().join("bench");
    std::fs::create_dir_all(&out)?;
    let path = out.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!(
        "figures written to {} ({:.0} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    let missed = rows.iter().filter(|r| r.goal.met() == Some(false)).count();
    if missed > 0 {
        println!("{missed} goal(s) missed");
    }
    Ok(missed)
}
