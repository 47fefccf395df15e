// Time left until an RFC 3339 instant, ticking with the shared clock (only this text node updates).
import { useComputed } from "@preact/signals";
import { now } from "../lib/clock";
import { fmtCountdown } from "../lib/format";

export function Countdown({ at }: { at: string }) {
  const target = Date.parse(at);
  const text = useComputed(() => fmtCountdown(target, now.value));
  return <time dateTime={at}>{text}</time>;
}
