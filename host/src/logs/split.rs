//! Cutting a byte stream into lines. Owns the line rules: `\n` ends a line (one `\r` before it is dropped
//! too), an unterminated rest is a line at EOF, and a line longer than `max_line_bytes` becomes pieces of
//! at most that size, every piece but the last marked partial. Pure: no I/O, no allocation per line (only
//! a bounded carry buffer for a line that spans reads).

/// Splits chunks into lines, handing each line (or piece) to a callback as `(bytes, partial)`.
pub(crate) struct LineSplitter {
    max: usize,
    /// Start of a line whose end has not been read yet. Never longer than `max + 1` between calls.
    carry: Vec<u8>,
}

impl LineSplitter {
    pub(crate) fn new(max_line_bytes: usize) -> LineSplitter {
        LineSplitter {
            max: max_line_bytes.max(1),
            carry: Vec::new(),
        }
    }

    /// Feeds the next chunk of the stream; emits every line it completes.
    pub(crate) fn feed(&mut self, chunk: &[u8], mut emit: impl FnMut(&[u8], bool)) {
        let mut rest = chunk;
        while let Some(pos) = memchr::memchr(b'\n', rest) {
            if self.carry.is_empty() {
                emit_line(&rest[..pos], self.max, &mut emit);
            } else {
                self.carry.extend_from_slice(&rest[..pos]);
                emit_line(&self.carry, self.max, &mut emit);
                self.carry.clear();
            }
            rest = &rest[pos + 1..];
        }
        if !rest.is_empty() {
            self.carry.extend_from_slice(rest);
            self.emit_settled_pieces(&mut emit);
        }
    }

    /// End of stream: emits the unterminated last line, if any.
    pub(crate) fn finish(&mut self, mut emit: impl FnMut(&[u8], bool)) {
        if !self.carry.is_empty() {
            emit_line(&self.carry, self.max, &mut emit);
            self.carry.clear();
        }
    }

    /// Emits the pieces of the pending line that no later byte can change, so the carry stays bounded
    /// however long a line gets. With at least `max + 2` bytes pending the finished line is longer than
    /// `max` even if its last byte turns out to be a stripped `\r`, so the first piece is already known.
    fn emit_settled_pieces(&mut self, emit: &mut impl FnMut(&[u8], bool)) {
        let mut start = 0;
        while self.carry.len() - start >= self.max.saturating_add(2) {
            let cut = cut_point(&self.carry[start..], self.max);
            emit(&self.carry[start..start + cut], true);
            start += cut;
        }
        if start > 0 {
            self.carry.drain(..start);
        }
    }
}

/// Emits one complete line (without its `\n`) as one or more pieces.
fn emit_line(line: &[u8], max: usize, emit: &mut impl FnMut(&[u8], bool)) {
    let mut rest = line.strip_suffix(b"\r").unwrap_or(line);
    while rest.len() > max {
        let cut = cut_point(rest, max);
        emit(&rest[..cut], true);
        rest = &rest[cut..];
    }
    emit(rest, false);
}

/// Where to cut `s` (longer than `max`): at `max`, or up to 3 bytes earlier so a UTF-8 character is
/// not split. Binary data with no boundary nearby is cut at `max`.
fn cut_point(s: &[u8], max: usize) -> usize {
    let is_continuation = |b: u8| b & 0b1100_0000 == 0b1000_0000;
    let mut cut = max;
    while cut > 0 && max - cut < 3 && is_continuation(s[cut]) {
        cut -= 1;
    }
    if cut == 0 || is_continuation(s[cut]) {
        max
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        let mut s = LineSplitter::new(max);
        for c in chunks {
            s.feed(c, |l, p| out.push((l.to_vec(), p)));
        }
        s.finish(|l, p| out.push((l.to_vec(), p)));
        out
    }

    fn lines(items: &[(&str, bool)]) -> Vec<(Vec<u8>, bool)> {
        items
            .iter()
            .map(|(l, p)| (l.as_bytes().to_vec(), *p))
            .collect()
    }

    #[test]
    fn many_lines_per_chunk_and_empty_lines() {
        assert_eq!(
            split(100, &[b"a\nbb\n\nccc\n"]),
            lines(&[("a", false), ("bb", false), ("", false), ("ccc", false)])
        );
    }

    #[test]
    fn crlf_loses_one_cr_only() {
        assert_eq!(
            split(100, &[b"a\r\nb\r\r\nc\rd\n"]),
            lines(&[("a", false), ("b\r", false), ("c\rd", false)])
        );
    }

    #[test]
    fn unterminated_last_line_is_emitted() {
        assert_eq!(
            split(100, &[b"a\nlast"]),
            lines(&[("a", false), ("last", false)])
        );
        assert_eq!(split(100, &[b""]), lines(&[]));
        assert_eq!(split(100, &[b"x\n"]), lines(&[("x", false)]));
    }

    #[test]
    fn lines_span_chunks() {
        assert_eq!(
            split(100, &[b"hel", b"lo\nwo", b"", b"r", b"ld\r", b"\n!"]),
            lines(&[("hello", false), ("world", false), ("!", false)])
        );
    }

    #[test]
    fn long_lines_become_partial_pieces() {
        assert_eq!(split(4, &[b"abcd\n"]), lines(&[("abcd", false)]));
        assert_eq!(split(4, &[b"abcd\r\n"]), lines(&[("abcd", false)]));
        assert_eq!(
            split(4, &[b"abcdefghij\nk\n"]),
            lines(&[("abcd", true), ("efgh", true), ("ij", false), ("k", false)])
        );
        assert_eq!(
            split(4, &[b"abcde"]),
            lines(&[("abcd", true), ("e", false)])
        );
    }

    #[test]
    fn long_lines_across_chunks_give_the_same_pieces() {
        let text = b"abcdefghij\r\nklmnop\nqrstu\r\n";
        let whole = split(4, &[text]);
        for size in 1..text.len() {
            let chunks: Vec<&[u8]> = text.chunks(size).collect();
            assert_eq!(split(4, &chunks), whole, "chunk size {size}");
        }
        // A line of exactly `max` bytes whose `\r` arrives before its `\n` is still one piece.
        assert_eq!(split(4, &[b"abcd\r", b"\n"]), lines(&[("abcd", false)]));
    }

    #[test]
    fn pieces_do_not_split_utf8_characters() {
        // "aé€" = 61 c3a9 e282ac; cutting at 4 would split the euro sign.
        let out = split(4, &["aé€x\n".as_bytes()]);
        assert_eq!(out, lines(&[("aé", true), ("€x", false)]));
        for (piece, _) in &out {
            assert!(std::str::from_utf8(piece).is_ok());
        }
    }

    #[test]
    fn binary_bytes_pass_through_and_are_cut_at_max() {
        let junk: Vec<u8> = (0..=255u8)
            .cycle()
            .take(3000)
            .filter(|b| *b != b'\n')
            .collect();
        let out = split(100, &[&junk]);
        assert!(
            out[..out.len() - 1]
                .iter()
                .all(|(l, p)| *p && l.len() <= 100 && !l.is_empty())
        );
        assert!(!out.last().map(|(_, p)| *p).unwrap_or(true));
        let joined: Vec<u8> = out.into_iter().flat_map(|(l, _)| l).collect();
        assert_eq!(joined, junk);
        // Continuation bytes only: no character boundary to back off to.
        assert_eq!(
            split(4, &[&[0x80; 6]]),
            vec![(vec![0x80; 4], true), (vec![0x80; 2], false)]
        );
    }

    #[test]
    fn tiny_max_never_loops() {
        assert_eq!(split(0, &["é\n".as_bytes()]).len(), 2);
        assert_eq!(split(1, &[b"abc\n"]).len(), 3);
    }
}
