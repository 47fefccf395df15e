//! Tokens to a tree: lists of pipelines of commands, where a command is a simple command, a group
//! (`( .. )`, `{ ..; }`) or a function definition. Compound statements (`if`, `while`, `for`,
//! `case`) are not modelled: their keywords start simple commands the analyser skips, so every
//! command inside them is still seen — the analyser assumes every branch may run.

use crate::lex::{Op, Redir, Tok, Word};

#[derive(Clone, Debug, PartialEq)]
pub struct Simple {
    pub words: Vec<Word>,
    pub redirs: Vec<Redir>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Simple(Simple),
    Group { body: List, redirs: Vec<Redir> },
    Function { name: String, body: List },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pipeline {
    pub cmds: Vec<Node>,
    /// Ends with `&`.
    pub background: bool,
    /// Follows `&&` or `||`: it may not run.
    pub after_and_or: bool,
}

pub type List = Vec<Pipeline>;

/// Groups nested deeper than this are refused (the analyser denies what it cannot read).
const MAX_NESTING: usize = 64;

pub fn parse(toks: Vec<Tok>) -> Result<List, String> {
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
        too_deep: false,
    };
    let mut list = p.list(End::Eof);
    // Stray closers (`case` patterns, unbalanced input) end nothing at the top level: keep reading.
    while p.i < p.toks.len() && !p.too_deep {
        p.i += 1;
        list.extend(p.list(End::Eof));
    }
    if p.too_deep {
        return Err(format!("groups nested deeper than {MAX_NESTING}"));
    }
    Ok(list)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Paren,
    Brace,
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
    depth: usize,
    too_deep: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn at_end(&self, end: End) -> bool {
        match self.peek() {
            None => true,
            Some(Tok::Op(Op::Close)) => true,
            Some(Tok::Word(w)) => end == End::Brace && w.bare() == Some("}"),
            _ => false,
        }
    }

    fn list(&mut self, end: End) -> List {
        let mut list = List::new();
        loop {
            let mut after_and_or = false;
            while let Some(Tok::Op(
                op @ (Op::Semi | Op::And | Op::Or | Op::Background | Op::Pipe),
            )) = self.peek()
            {
                after_and_or = matches!(op, Op::And | Op::Or);
                self.i += 1;
            }
            if self.at_end(end) {
                return list;
            }
            let mut pipeline = Pipeline {
                after_and_or,
                ..Pipeline::default()
            };
            loop {
                pipeline.cmds.push(self.command());
                if matches!(self.peek(), Some(Tok::Op(Op::Pipe))) {
                    self.i += 1;
                    if self.at_end(end) {
                        break;
                    }
                    continue;
                }
                break;
            }
            if matches!(self.peek(), Some(Tok::Op(Op::Background))) {
                self.i += 1;
                pipeline.background = true;
            }
            list.push(pipeline);
        }
    }

    fn command(&mut self) -> Node {
        if self.depth >= MAX_NESTING {
            self.too_deep = true;
            self.i = self.toks.len();
            return Node::Simple(Simple {
                words: Vec::new(),
                redirs: Vec::new(),
            });
        }
        self.depth += 1;
        let node = self.command_inner();
        self.depth -= 1;
        node
    }

    fn command_inner(&mut self) -> Node {
        match self.peek() {
            Some(Tok::Op(Op::Open)) => {
                self.i += 1;
                let body = self.list(End::Paren);
                if matches!(self.peek(), Some(Tok::Op(Op::Close))) {
                    self.i += 1;
                }
                let redirs = self.redirs();
                Node::Group { body, redirs }
            }
            Some(Tok::Word(w)) if w.bare() == Some("{") => {
                self.i += 1;
                let body = self.list(End::Brace);
                if matches!(self.peek(), Some(Tok::Word(w)) if w.bare() == Some("}")) {
                    self.i += 1;
                }
                let redirs = self.redirs();
                Node::Group { body, redirs }
            }
            _ => self.simple(),
        }
    }

    fn redirs(&mut self) -> Vec<Redir> {
        let mut out = Vec::new();
        while let Some(Tok::Redir(r)) = self.peek() {
            out.push(r.clone());
            self.i += 1;
        }
        out
    }

    fn simple(&mut self) -> Node {
        let mut s = Simple {
            words: Vec::new(),
            redirs: Vec::new(),
        };
        // `function name [()] body`
        if let Some(Tok::Word(w)) = self.peek()
            && w.bare() == Some("function")
            && let Some(Tok::Word(name)) = self.toks.get(self.i + 1)
        {
            let name = name.to_string();
            self.i += 2;
            if matches!(self.peek(), Some(Tok::Op(Op::Open)))
                && matches!(self.toks.get(self.i + 1), Some(Tok::Op(Op::Close)))
            {
                self.i += 2;
            }
            return self.function_body(name);
        }
        loop {
            match self.peek() {
                Some(Tok::Word(w)) => {
                    s.words.push(w.clone());
                    self.i += 1;
                    // `name() body`
                    if s.words.len() == 1
                        && matches!(self.peek(), Some(Tok::Op(Op::Open)))
                        && matches!(self.toks.get(self.i + 1), Some(Tok::Op(Op::Close)))
                    {
                        self.i += 2;
                        let name = s.words[0].to_string();
                        return self.function_body(name);
                    }
                }
                Some(Tok::Redir(r)) => {
                    s.redirs.push(r.clone());
                    self.i += 1;
                }
                Some(Tok::Op(Op::Open)) if s.words.is_empty() && s.redirs.is_empty() => {
                    return self.command();
                }
                _ => break,
            }
        }
        Node::Simple(s)
    }

    fn function_body(&mut self, name: String) -> Node {
        while matches!(self.peek(), Some(Tok::Op(Op::Semi))) {
            self.i += 1;
        }
        let body = match self.command() {
            Node::Group { body, .. } => body,
            other => vec![Pipeline {
                cmds: vec![other],
                background: false,
                after_and_or: false,
            }],
        };
        Node::Function { name, body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::lex;

    #[test]
    fn fork_bomb_is_a_function_and_a_call() {
        let list = parse(lex(":(){ :|:& };:").unwrap()).unwrap();
        assert_eq!(list.len(), 2, "{list:#?}");
        let Node::Function { name, body } = &list[0].cmds[0] else {
            panic!("{list:#?}")
        };
        assert_eq!(name, ":");
        assert_eq!(body.len(), 1);
        assert_eq!(body[0].cmds.len(), 2);
        assert!(body[0].background);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(lex(&deep).unwrap()).is_err());
    }

    #[test]
    fn groups_and_pipes() {
        let list = parse(lex("(cd / && rm -rf *) | cat; { a; b; } > out").unwrap()).unwrap();
        assert_eq!(list.len(), 2, "{list:#?}");
        assert_eq!(list[0].cmds.len(), 2);
        let Node::Group { body, redirs } = &list[1].cmds[0] else {
            panic!("{list:#?}")
        };
        assert_eq!(body.len(), 2);
        assert_eq!(redirs.len(), 1);
    }
}
