// ANSI colours of log lines, as text: ansi_up parses the escape sequences (SGR colours, bold, ...)
// and instead of its HTML we take the pieces it would have wrapped, each with class names
// (`ansi-red-fg`, `ansi-bold`, ...) styled in styles.css. The text is rendered as text nodes, so
// nothing a service wrote can become markup, and no inline `style` attribute is produced (the strict
// CSP would refuse it). 256-colour and true-colour values map to the nearest of the 16 named colours.
import { AnsiUp } from "ansi_up";
import { visible } from "./text";

export interface Segment {
  text: string;
  cls: string;
}

interface Colour {
  rgb: number[];
  class_name: string;
}

interface Fragment {
  text: string;
  bold: boolean;
  faint: boolean;
  italic: boolean;
  underline: boolean;
  fg: Colour | null;
  bg: Colour | null;
}

const NAMED: [string, number[]][] = [
  ["ansi-black", [0, 0, 0]],
  ["ansi-red", [187, 0, 0]],
  ["ansi-green", [0, 187, 0]],
  ["ansi-yellow", [187, 187, 0]],
  ["ansi-blue", [0, 0, 187]],
  ["ansi-magenta", [187, 0, 187]],
  ["ansi-cyan", [0, 187, 187]],
  ["ansi-white", [255, 255, 255]],
  ["ansi-bright-black", [85, 85, 85]],
  ["ansi-bright-red", [255, 85, 85]],
  ["ansi-bright-green", [0, 255, 0]],
  ["ansi-bright-yellow", [255, 255, 85]],
  ["ansi-bright-blue", [85, 85, 255]],
  ["ansi-bright-magenta", [255, 85, 255]],
  ["ansi-bright-cyan", [85, 255, 255]],
  ["ansi-bright-white", [255, 255, 255]],
];

function nearest(rgb: number[]): string {
  let best = NAMED[0]![0];
  let bestD = Infinity;
  for (const [name, c] of NAMED) {
    const d = (c[0]! - rgb[0]!) ** 2 + (c[1]! - rgb[1]!) ** 2 + (c[2]! - rgb[2]!) ** 2;
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  return best;
}

const colourClass = (c: Colour) => (c.class_name === "truecolor" ? nearest(c.rgb) : c.class_name);

let out: Segment[] = [];
const au = new AnsiUp();
au.escape_html = true;
au.use_classes = true;
au.url_allowlist = {}; // OSC 8 hyperlinks are shown as their text only
// ansi_up 6's renderer of one styled piece; replaced to collect segments instead of HTML.
(au as unknown as { transform_to_html: (f: Fragment) => string }).transform_to_html = (f: Fragment) => {
  if (!f.text) return "";
  const cls: string[] = [];
  if (f.bold) cls.push("ansi-bold");
  if (f.faint) cls.push("ansi-faint");
  if (f.italic) cls.push("ansi-italic");
  if (f.underline) cls.push("ansi-underline");
  if (f.fg) cls.push(`${colourClass(f.fg)}-fg`);
  if (f.bg) cls.push(`${colourClass(f.bg)}-bg`);
  // Whatever escape characters ansi_up did not take as a sequence are shown, not passed on.
  out.push({ text: visible(f.text), cls: cls.join(" ") });
  return "";
};

/** The styled pieces of one line. Each line starts from the default style (lines render in any order). */
export function segments(line: string): Segment[] {
  out = [];
  (au as unknown as { _buffer: string })._buffer = "";
  au.ansi_to_html("\x1b[0m" + line);
  const result = out;
  out = [];
  return result;
}

// CSI / OSC sequences and lone escape characters.
// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** The line without escape sequences (the "Colours" toggle off, search matching, download is raw). */
export function strip(line: string): string {
  return visible(line.includes("\x1b") ? line.replace(ANSI_RE, "") : line);
}
