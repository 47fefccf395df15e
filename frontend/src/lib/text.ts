// Control characters a service wrote (escape sequences in a command, an env value, an event reason)
// shown as visible symbols (ESC as ␛, U+241B), so the text reads literally and the terminal codes
// neither vanish nor reach the DOM. Tabs and newlines stay.

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;
// eslint-disable-next-line no-control-regex
const ANY_CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

export function visible(s: string): string {
  return ANY_CONTROL.test(s) ? s.replace(CONTROL, (c) => (c === "\x7f" ? "\u2421" : String.fromCharCode(0x2400 + c.charCodeAt(0)))) : s;
}
