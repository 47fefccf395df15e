//! The analyser: walks a parsed command the way the shell would run it, keeping the state that
//! changes what later commands mean (the current directory after `cd`, variables assigned on the way,
//! files written or downloaded earlier), and hands every simple command, fully expanded, to the
//! rules (`rules`). Shell text reaches it only through `script`, which runs the grammar gate
//! (`gate`) first, so it only ever walks the subset it models. It assumes every branch runs
//! (`a && b`, `a || b`, `if`) and cannot see the file system (paths are judged in `targets`, with
//! symlinks resolved by the host). Findings are deny reasons; the first one is the answer.

use std::collections::{BTreeMap, BTreeSet};

use crate::expand::{Field, Lookup, Scope, Why, expand_one, expand_words};
use crate::lex::{LexError, Part, RedirKind, VarOp, Word, lex};
use crate::parse::{List, Node, Pipeline, Simple, parse};
use crate::paths;

/// Nested shells (`sh -c`, `eval`, `$(..)`) deeper than this are refused.
const MAX_DEPTH: usize = 12;
/// Most simple commands analysed for one request (after loops and `find -exec` multiply them).
const MAX_COMMANDS: usize = 512;
/// Most bytes variables may expand to over one command.
const MAX_EXPANDED: usize = 64 * 1024;
/// Most paths the host is asked to canonicalise for one command.
pub const MAX_PATHS: usize = 512;
/// Longest command text analysed.
pub const MAX_LEN: usize = 64 * 1024;
/// Most combinations of multi-valued variables (`for` lists) tried for one command.
const MAX_COMBINATIONS: usize = 64;

/// A variable as the analyser knows it.
#[derive(Clone, Debug)]
pub enum Binding {
    /// Its possible values (a `for` variable has several).
    Known(Vec<String>),
    Unknown(Why),
}

/// The state of one shell.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    /// The current directory; `None` after a `cd` to a place that cannot be known.
    pub dir: Option<String>,
    pub vars: BTreeMap<String, Binding>,
    /// Files written by downloaders (normalised paths), with the downloader.
    pub downloads: Vec<(String, String)>,
    pub functions: BTreeSet<String>,
    /// The current dir was reached through a name (`cd build`, `cd /x`) that may be a symlink:
    /// a `..` climbing out of it cannot be judged from the text.
    pub descended: bool,
}

impl Frame {
    /// `p` made absolute against the current dir and normalised; `None` when the dir is unknown,
    /// when a `..` climbs out of a dir that may be a symlink (`link/..`, `cd build && rm ../x`), or
    /// when a pattern names dirs (`l*/x`, `l*/`) that may be symlinks: there the text and the
    /// kernel disagree, and the host cannot resolve a pattern.
    pub fn resolve(&self, p: &str) -> Option<String> {
        if paths::climbs_out_of_a_name(p)
            || (self.descended && !p.starts_with('/') && p.split('/').any(|c| c == ".."))
        {
            return None;
        }
        let joined = if p.starts_with('/') {
            p.to_string()
        } else {
            format!("{}/{p}", self.dir.as_deref()?)
        };
        if paths::glob_in_dir_part(&joined) {
            return None;
        }
        paths::resolve(self.dir.as_deref(), p)
    }

    /// A child shell: same directory, variables, downloads; `extra` exported on top.
    pub fn child(&self, extra: &[(String, Lookup)]) -> Frame {
        let mut f = self.clone();
        for (k, v) in extra {
            f.vars.insert(k.clone(), binding(v.clone()));
        }
        f
    }
}

pub fn binding(l: Lookup) -> Binding {
    match l {
        Lookup::Known(v) => Binding::Known(vec![v]),
        Lookup::Unknown(w) => Binding::Unknown(short(w)),
    }
}

/// An unknown value's description, cut: `X=$X$X` must not double it at every step.
fn short(mut w: Why) -> Why {
    if w.what.len() > 120 {
        let mut cut = 120;
        while !w.what.is_char_boundary(cut) {
            cut -= 1;
        }
        w.what.truncate(cut);
        w.what.push_str("...");
    }
    w
}

/// What a command's standard input carries.
#[derive(Clone, Debug)]
pub enum Stdin {
    /// The caller's (for tend's workflow steps: nothing).
    Inherit,
    /// Known text (`echo ... |`, a here-document).
    Text(String),
    /// Output of a downloader, possibly filtered.
    Download(String),
    /// A file (`< file`).
    File(String),
    /// Output of a command whose output cannot be known.
    Unknown(String),
    /// Path names (`find ROOT |`): patterns of the paths below the roots.
    Paths(Vec<Field>),
}

/// What a command writes to its standard output, for the next command of a pipeline.
#[derive(Clone, Debug)]
pub enum Produces {
    Nothing,
    Text(String),
    Download(String),
    Other(String),
    /// Path names below these patterns (what `find` prints).
    Paths(Vec<Field>),
}

#[derive(Default)]
struct Summary {
    /// A downloader ran somewhere in the script.
    download: Option<String>,
    /// The script was one `echo`/`printf` with known output.
    text: Option<String>,
}

/// What the host tells the policy besides the command (the request's extra fields).
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    /// Paths never written, deleted or read by a command (tend's data dir, its database, token,
    /// plugins, backups), canonical.
    pub protected: Vec<String>,
    /// The daemon's pid (0 when unknown).
    pub daemon_pid: u32,
    /// Names the daemon's process is known by (its executable's file name, its command line).
    pub daemon_names: Vec<String>,
    /// The daemon's own working directory (never a meaningful root).
    pub daemon_cwd: Option<String>,
    /// Interpreters whose inline code (`python3 -c`) the operator allows (`[policy] interpreters`).
    pub interpreters: Vec<String>,
    /// Extra programs on the allow-list (`[policy] programs`).
    pub programs: Vec<String>,
}

pub struct Analyser {
    /// The containment root: the request's working dir, normalised, when it is a meaningful root;
    /// `None` otherwise (then `no_root` says why, and nothing may be deleted or written).
    pub cwd: Option<String>,
    /// Why there is no meaningful root.
    pub no_root: String,
    pub ctx: Ctx,
    pub findings: Vec<String>,
    /// Files and dirs written earlier in the command (normalised): running one is refused.
    pub written: Vec<String>,
    /// Commands analysed so far (the work budget).
    cost: usize,
    /// Bytes variables expanded to so far (the work budget).
    expanded: usize,
    /// Inside a command that may not run (after `&&`/`||`, in `if`/`while`/`until`/`for`): an
    /// assignment there may have happened or not.
    conditional: usize,
    /// Second question: the canonical form of each path asked about (`real_path`).
    pub resolved: Option<BTreeMap<String, String>>,
    /// First question: the absolute paths judged, to be canonicalised by the host.
    pub asked: BTreeSet<String>,
    depth: usize,
    summaries: Vec<Summary>,
}

impl Analyser {
    pub fn new(cwd: &str) -> Analyser {
        Analyser::with_ctx(cwd, Ctx::default())
    }

    pub fn with_ctx(cwd: &str, ctx: Ctx) -> Analyser {
        let (root, no_root) = crate::targets::root_of(cwd, &ctx);
        Analyser {
            cwd: root,
            no_root,
            ctx,
            findings: Vec::new(),
            written: Vec::new(),
            cost: 0,
            expanded: 0,
            conditional: 0,
            resolved: None,
            asked: BTreeSet::new(),
            depth: 0,
            summaries: vec![Summary::default()],
        }
    }

    /// The request's `$HOME`, if it is known.
    pub fn home(&self, frame: &Frame) -> Option<String> {
        match frame.vars.get("HOME") {
            Some(Binding::Known(v)) if v.len() == 1 => Some(v[0].clone()),
            _ => None,
        }
    }

    pub fn deny(&mut self, reason: String) {
        if !self.findings.contains(&reason) {
            self.findings.push(reason);
        }
    }

    pub fn note_download(&mut self, by: &str) {
        for s in &mut self.summaries {
            s.download.get_or_insert_with(|| by.to_string());
        }
    }

    /// Analyses shell text in `frame` (which it changes, as the shell would). Text outside the
    /// subset `gate` accepts is refused before it is parsed.
    pub fn script(&mut self, src: &str, frame: &mut Frame) {
        if let Err(reason) = crate::gate::check(src, crate::gate::BUDGET) {
            self.deny(reason);
            return;
        }
        if src.len() > MAX_LEN {
            self.deny(format!(
                "command text longer than {MAX_LEN} bytes; too long to analyse"
            ));
            return;
        }
        if self.depth >= MAX_DEPTH {
            self.deny("commands nested too deeply (sh -c / eval / $(...)) to analyse".into());
            return;
        }
        let parsed = lex(src).map_err(|LexError(e)| e).and_then(parse);
        let list = match parsed {
            Ok(list) => list,
            Err(e) => {
                self.deny(format!("cannot parse the command: {e}"));
                return;
            }
        };
        self.depth += 1;
        let produced = self.list(&list, frame);
        self.depth -= 1;
        if list.len() == 1
            && list[0].cmds.len() == 1
            && let Some(Produces::Text(t)) = produced
            && let Some(s) = self.summaries.last_mut()
        {
            s.text = Some(t);
        }
    }

    /// Returns what the last pipeline produced.
    fn list(&mut self, list: &List, frame: &mut Frame) -> Option<Produces> {
        let mut last = None;
        for p in list {
            last = Some(self.pipeline(p, frame));
        }
        last
    }

    fn pipeline(&mut self, p: &Pipeline, frame: &mut Frame) -> Produces {
        self.conditional += usize::from(p.after_and_or);
        let produced = if p.cmds.len() > 1 || p.background {
            // Every part of a pipeline, and a background command, runs in a subshell: its `cd`
            // and assignments do not last; what it writes or downloads does.
            let mut sub = frame.clone();
            let produced = self.pipeline_in(p, &mut sub);
            frame.downloads = sub.downloads;
            produced
        } else {
            self.pipeline_in(p, frame)
        };
        self.conditional -= usize::from(p.after_and_or);
        produced
    }

    fn pipeline_in(&mut self, p: &Pipeline, frame: &mut Frame) -> Produces {
        let mut stdin = Stdin::Inherit;
        let mut produced = Produces::Nothing;
        let mut upstream_download: Option<String> = None;
        for (i, node) in p.cmds.iter().enumerate() {
            if i > 0 {
                stdin = match (&upstream_download, &produced) {
                    (Some(by), _) => Stdin::Download(by.clone()),
                    (None, Produces::Text(t)) => Stdin::Text(t.clone()),
                    (None, Produces::Download(by)) => Stdin::Download(by.clone()),
                    (None, Produces::Other(by)) => Stdin::Unknown(by.clone()),
                    (None, Produces::Paths(p)) => Stdin::Paths(p.clone()),
                    (None, Produces::Nothing) => Stdin::Unknown("a command with no output".into()),
                };
            }
            produced = if p.cmds.len() > 1 {
                let mut own = frame.clone();
                let produced = self.node(node, &mut own, &stdin);
                frame.downloads = own.downloads;
                produced
            } else {
                self.node(node, frame, &stdin)
            };
            if let Produces::Download(by) = &produced {
                upstream_download.get_or_insert_with(|| by.clone());
            }
        }
        produced
    }

    fn node(&mut self, node: &Node, frame: &mut Frame, stdin: &Stdin) -> Produces {
        match node {
            Node::Simple(s) => self.simple(s, frame, stdin),
            Node::Group { body, redirs } => {
                let simple = Simple {
                    words: Vec::new(),
                    redirs: redirs.clone(),
                };
                self.simple(&simple, frame, stdin);
                let mut inner = frame.clone();
                match self.list(body, &mut inner) {
                    Some(Produces::Download(by)) => Produces::Download(by),
                    _ => Produces::Other("a command group".into()),
                }
            }
            Node::Function { name, body } => {
                if let Some(reason) = fork_bomb(name, body) {
                    self.deny(reason);
                }
                frame.functions.insert(name.clone());
                let mut inner = frame.clone();
                self.list(body, &mut inner);
                Produces::Nothing
            }
        }
    }

    fn simple(&mut self, s: &Simple, frame: &mut Frame, stdin: &Stdin) -> Produces {
        let mut words: &[Word] = &s.words;
        // Keywords of compound commands start commands of their own here; the rest is the command.
        while let Some(k) = words.first().and_then(Word::bare)
            && matches!(
                k,
                "!" | "if"
                    | "then"
                    | "else"
                    | "elif"
                    | "fi"
                    | "do"
                    | "done"
                    | "while"
                    | "until"
                    | "esac"
                    | "{"
                    | "}"
            )
        {
            // What follows `if`/`while`/`until` (and `for`, below) up to `fi`/`done` may not run.
            match k {
                "if" | "while" | "until" => self.conditional += 1,
                "fi" | "done" => self.conditional = self.conditional.saturating_sub(1),
                _ => {}
            }
            words = &words[1..];
        }
        match words.first().and_then(Word::bare) {
            Some("for" | "select") => {
                self.conditional += 1;
                return self.for_loop(&words[1..], frame);
            }
            Some("case") => {
                self.expand(&words[1..2.min(words.len())], frame);
                return Produces::Nothing;
            }
            Some("[[") => {
                self.expand(&words[1..], frame);
                return Produces::Other("[[".into());
            }
            _ => {}
        }
        // Leading NAME=value words.
        let mut assigns: Vec<(String, Word)> = Vec::new();
        while let Some(w) = words.first()
            && let Some(a) = assignment(w)
        {
            assigns.push(a);
            words = &words[1..];
        }
        let mut stdin = stdin.clone();
        for r in &s.redirs {
            match r.kind {
                RedirKind::Write | RedirKind::Append | RedirKind::ReadWrite => {
                    let target = self.expand_one_word(&r.target, frame);
                    let op = match r.kind {
                        RedirKind::Append => "`>>`",
                        _ => "`>`",
                    };
                    self.write_target(&target, frame, op);
                }
                RedirKind::Read => {
                    let target = self.expand_one_word(&r.target, frame);
                    if let Some(p) = target.value().and_then(|p| frame.resolve(p)) {
                        if paths::is_device(&p) {
                            self.deny(format!("reads the device {p} (`<`)"));
                        }
                        let real = self.real_path(&p);
                        if let Some(d) = self.protected(&real)
                            && paths::within(&real, d)
                        {
                            self.deny(format!(
                                "reads {real} (`<`): tend's own data ({d}) is protected"
                            ));
                        }
                    }
                    stdin = match target.value() {
                        Some(p) => {
                            let p = frame.resolve(p).unwrap_or_default();
                            match frame.downloads.iter().find(|(f, _)| *f == p) {
                                Some((_, by)) => Stdin::Download(by.clone()),
                                None => Stdin::File(p),
                            }
                        }
                        None => match target.download() {
                            Some(by) => Stdin::Download(by.to_string()),
                            None => Stdin::Unknown(target.text.clone()),
                        },
                    };
                }
                RedirKind::HereDoc => {
                    let quoted = r.target.0.iter().any(|p| matches!(p, Part::Quoted(_)));
                    stdin = if quoted {
                        Stdin::Text(r.body.clone())
                    } else {
                        match crate::lex::heredoc_word(&r.body) {
                            Ok(w) => {
                                let f = self.expand_one_word(&w, frame);
                                self.stdin_of(f)
                            }
                            Err(LexError(e)) => {
                                self.deny(format!("cannot parse a here-document: {e}"));
                                Stdin::Unknown("a here-document".into())
                            }
                        }
                    };
                }
                RedirKind::HereString => {
                    let f = self.expand_one_word(&r.target, frame);
                    stdin = self.stdin_of(f);
                }
                RedirKind::Dup => {}
            }
        }
        let values: Vec<(String, Lookup)> = assigns
            .iter()
            .map(|(name, w)| (name.clone(), lookup(self.expand_one_word(w, frame))))
            .collect();
        for (name, _) in &values {
            self.assigning(name);
        }
        if words.is_empty() {
            for (name, v) in values {
                self.assign(frame, name, binding(v));
            }
            return Produces::Nothing;
        }
        let mut produced = Produces::Nothing;
        for argv in self.expand(words, frame) {
            produced = self.command_in(&argv, frame, &stdin, &values);
        }
        produced
    }

    fn stdin_of(&self, f: Field) -> Stdin {
        match (f.value(), f.download()) {
            (Some(t), _) => Stdin::Text(t.to_string()),
            (None, Some(by)) => Stdin::Download(by.to_string()),
            (None, None) => Stdin::Unknown(f.text),
        }
    }

    /// `for NAME in WORDS`: NAME takes each value in turn.
    fn for_loop(&mut self, words: &[Word], frame: &mut Frame) -> Produces {
        let Some(name) = words.first().and_then(Word::bare) else {
            return Produces::Nothing;
        };
        let list: &[Word] = match words.get(1).and_then(Word::bare) {
            Some("in") => &words[2..],
            _ => &[],
        };
        let bound = if list.is_empty() {
            Binding::Unknown(Why {
                what: format!("${name} (the positional parameters)"),
                download: None,
            })
        } else {
            let mut values = Vec::new();
            let mut unknown = None;
            for argv in self.expand(list, frame) {
                for f in argv {
                    match f.unknown {
                        None if f.glob => {
                            unknown.get_or_insert(Why {
                                what: format!("${name} (from the pattern {})", f.text),
                                download: None,
                            });
                        }
                        None => values.push(f.text),
                        Some(w) => {
                            unknown.get_or_insert(w);
                        }
                    }
                }
            }
            match unknown {
                Some(w) => Binding::Unknown(w),
                None if values.is_empty() => Binding::Known(vec![String::new()]),
                None => Binding::Known(values),
            }
        };
        frame.vars.insert(name.to_string(), bound);
        Produces::Nothing
    }

    fn expand_one_word(&mut self, w: &Word, frame: &Frame) -> Field {
        let choice = BTreeMap::new();
        let mut view = View {
            an: self,
            frame,
            choice: &choice,
        };
        expand_one(w, &mut view)
    }

    /// Binds a variable; where the assignment may not run (`false && X=/`, inside `if`), the
    /// variable may keep its old value (empty when unset) too.
    pub fn assign(&mut self, frame: &mut Frame, name: String, new: Binding) {
        let bound = if self.conditional == 0 {
            new
        } else {
            match (frame.vars.get(&name), new) {
                (_, Binding::Unknown(w)) => Binding::Unknown(w),
                (Some(Binding::Unknown(w)), _) => Binding::Unknown(w.clone()),
                (old, Binding::Known(mut values)) => {
                    let old = match old {
                        Some(Binding::Known(o)) => o.clone(),
                        _ => vec![String::new()],
                    };
                    for o in old {
                        if !values.contains(&o) {
                            values.push(o);
                        }
                    }
                    Binding::Known(values)
                }
            }
        };
        frame.vars.insert(name, bound);
    }

    /// Every way `words` can expand, one per combination of multi-valued variables.
    pub fn expand(&mut self, words: &[Word], frame: &Frame) -> Vec<Vec<Field>> {
        let mut names = BTreeSet::new();
        for w in words {
            var_names(w, &mut names);
        }
        let multi: Vec<(String, Vec<String>)> = names
            .into_iter()
            .filter_map(|n| match frame.vars.get(&n) {
                Some(Binding::Known(v)) if v.len() > 1 => Some((n, v.clone())),
                _ => None,
            })
            .collect();
        let mut combos: Vec<BTreeMap<String, String>> = vec![BTreeMap::new()];
        for (name, values) in &multi {
            let mut next = Vec::new();
            if combos.len().saturating_mul(values.len()) > MAX_COMBINATIONS {
                // Checking only some of the values would not be sound.
                self.deny(format!(
                    "more than {MAX_COMBINATIONS} combinations of loop values to analyse; over the policy budget"
                ));
                return Vec::new();
            }
            for c in &combos {
                for v in values {
                    let mut c = c.clone();
                    c.insert(name.clone(), v.clone());
                    next.push(c);
                }
            }
            combos = next;
        }
        combos
            .iter()
            .map(|choice| {
                let mut view = View {
                    an: self,
                    frame,
                    choice,
                };
                expand_words(words, &mut view)
            })
            .collect()
    }

    /// Runs the rules for one expanded command.
    pub fn command_in(
        &mut self,
        argv: &[Field],
        frame: &mut Frame,
        stdin: &Stdin,
        env: &[(String, Lookup)],
    ) -> Produces {
        let Some(first) = argv.first() else {
            return Produces::Nothing;
        };
        let Some(program) = first.value() else {
            match first.download() {
                Some(by) => self.deny(format!(
                    "download-and-execute: the program to run comes from {by} (`{}`)",
                    first.text
                )),
                None => self.deny(format!(
                    "cannot tell which program `{}` runs (unresolved variable or command output)",
                    first.text
                )),
            }
            return Produces::Other(first.text.clone());
        };
        self.cost += 1;
        if self.cost > MAX_COMMANDS {
            self.deny(format!(
                "more than {MAX_COMMANDS} commands to analyse (loops, `find -exec`, nested shells); over the policy budget"
            ));
            return Produces::Other(program.to_string());
        }
        for (k, _) in env {
            self.exporting(k);
        }
        for f in argv {
            if let Some(v) = f.value()
                && v.contains('/')
            {
                // `--file=/x`, `of=/x`: the path part.
                let v = v.rsplit_once('=').map_or(v, |(_, p)| p);
                let v = v.strip_prefix('@').unwrap_or(v);
                if let Some(p) = frame.resolve(v)
                    && paths::is_device(&p)
                {
                    self.deny(format!(
                        "`{}` names the device {p}; reading or writing devices is refused",
                        paths::basename(program)
                    ));
                }
                if let Some(p) = frame.resolve(v)
                    && !paths::is_kernel(&p)
                    && let p = self.real_path(&p)
                    && let Some(d) = self.protected(&p)
                    && paths::within(&p, d)
                {
                    self.deny(format!(
                        "`{}` names {p}: tend's own data ({d}) is protected",
                        paths::basename(program)
                    ));
                }
            }
        }
        let mut name = paths::basename(program).to_string();
        if program.contains('/') {
            let Some(p) = frame.resolve(program) else {
                self.deny(format!(
                    "runs {program} in a directory that cannot be known (after `cd`, or `..` out of a dir that may be a symlink)"
                ));
                return Produces::Other(name);
            };
            if let Some((_, by)) = frame.downloads.iter().find(|(f, _)| *f == p) {
                self.deny(format!(
                    "download-and-execute: runs {p}, downloaded by {by} earlier in the command"
                ));
                return Produces::Other(name);
            }
            let dir = p.rsplit_once('/').map_or("/", |(d, _)| d);
            if !paths::is_bin_dir(dir) {
                self.run_project_file(&p, "runs");
                let shown = format!("`{program}`");
                self.opaque_args(frame, &shown, &argv[1..], env);
                return Produces::Other(name);
            }
            name = paths::basename(&p).to_string();
        }
        let ctx = crate::rules::Cmd {
            name: &name,
            argv,
            stdin,
            env,
        };
        crate::rules::apply(self, frame, &ctx)
    }

    /// Analyses `src` as a child shell (`sh -c`), with `positional` as `$0, $1, ...`.
    pub fn child_script(
        &mut self,
        src: &str,
        frame: &Frame,
        env: &[(String, Lookup)],
        positional: &[Field],
    ) {
        let mut child = frame.child(env);
        for (i, f) in positional.iter().enumerate() {
            let v = match &f.unknown {
                None => Lookup::Known(f.text.clone()),
                Some(w) => Lookup::Unknown(w.clone()),
            };
            child.vars.insert(i.to_string(), binding(v));
        }
        self.script(src, &mut child);
    }
}

fn lookup(f: Field) -> Lookup {
    match f.unknown {
        None => Lookup::Known(f.text),
        Some(w) => Lookup::Unknown(short(w)),
    }
}

/// `NAME=value` (or `NAME+=value`) as an assignment word: the name and the value as a word.
fn assignment(w: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit(first)) = w.0.first() else {
        return None;
    };
    let eq = first.find('=')?;
    let name = first[..eq].strip_suffix('+').unwrap_or(&first[..eq]);
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric());
    if !ok {
        return None;
    }
    let mut rest = Vec::new();
    if eq + 1 < first.len() {
        rest.push(Part::Lit(first[eq + 1..].to_string()));
    }
    rest.extend(w.0[1..].iter().cloned());
    Some((name.to_string(), Word(rest)))
}

fn var_names(w: &Word, out: &mut BTreeSet<String>) {
    for p in &w.0 {
        if let Part::Var { name, op, .. } = p {
            out.insert(name.clone());
            match op {
                VarOp::Default(w, _) | VarOp::Alternative(w) => var_names(w, out),
                _ => {}
            }
        }
    }
}

/// A function that runs copies of itself in a pipeline or in the background, or more than once:
/// `:(){ :|:& };:` and its renamed variants.
fn fork_bomb(name: &str, body: &List) -> Option<String> {
    fn calls(name: &str, list: &List, spawning: &mut bool) -> usize {
        let mut n = 0;
        for p in list {
            for node in &p.cmds {
                let here = match node {
                    Node::Simple(s) => usize::from(
                        s.words.first().and_then(Word::literal).as_deref() == Some(name),
                    ),
                    Node::Group { body, .. } => calls(name, body, spawning),
                    Node::Function { .. } => 0,
                };
                if here > 0 && (p.cmds.len() > 1 || p.background) {
                    *spawning = true;
                }
                n += here;
            }
        }
        n
    }
    let mut spawning = false;
    let n = calls(name, body, &mut spawning);
    (spawning || n > 1).then(|| {
        format!(
            "fork bomb: the function `{name}` starts copies of itself ({n} call(s) in its body)"
        )
    })
}

/// Expansion's view of the analyser: variables of `frame` (one alternative each, from `choice`),
/// substitutions analysed as subshells.
struct View<'a> {
    an: &'a mut Analyser,
    frame: &'a Frame,
    choice: &'a BTreeMap<String, String>,
}

impl Scope for View<'_> {
    fn lookup(&mut self, name: &str) -> Lookup {
        let found = self.find(name);
        // Every byte a variable expands to is counted: `X=$X$X` doubling stops at the budget
        // instead of exhausting memory.
        if let Lookup::Known(v) = &found {
            self.an.expanded = self.an.expanded.saturating_add(v.len());
            if self.an.expanded > MAX_EXPANDED {
                self.an.deny(format!(
                    "variables expand to more than {MAX_EXPANDED} bytes; over the policy budget"
                ));
                return Lookup::Unknown(Why {
                    what: format!("${name} (over the budget)"),
                    download: None,
                });
            }
        }
        found
    }

    fn substitute(&mut self, src: &str, process: bool) -> Lookup {
        let mut sub = self.frame.clone();
        self.an.summaries.push(Summary::default());
        self.an.script(src, &mut sub);
        let summary = self.an.summaries.pop().unwrap_or_default();
        let trimmed = src.trim();
        if !process {
            if trimmed == "pwd"
                && let Some(d) = &self.frame.dir
            {
                return Lookup::Known(d.clone());
            }
            if summary.download.is_none()
                && let Some(t) = summary.text
            {
                return Lookup::Known(t.trim_end_matches('\n').to_string());
            }
        }
        Lookup::Unknown(Why {
            what: if process {
                format!("<({trimmed})")
            } else {
                format!("$({trimmed})")
            },
            download: summary.download,
        })
    }
}

impl View<'_> {
    /// A variable's value: the loop value being tried, the frame's binding, `$PWD`, `$0`.
    fn find(&mut self, name: &str) -> Lookup {
        if let Some(v) = self.choice.get(name) {
            return Lookup::Known(v.clone());
        }
        match self.frame.vars.get(name) {
            Some(Binding::Known(v)) => Lookup::Known(v.first().cloned().unwrap_or_default()),
            Some(Binding::Unknown(w)) => Lookup::Unknown(w.clone()),
            None => match (name, &self.frame.dir) {
                ("PWD", Some(d)) => Lookup::Known(d.clone()),
                ("0", _) => Lookup::Known("sh".into()),
                _ => Lookup::Unknown(Why {
                    what: format!("${name}"),
                    download: None,
                }),
            },
        }
    }
}
