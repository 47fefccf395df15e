// A service's recent probe results as bars on a canvas (painted in the shared per-frame batch), with
// the count of passed checks as its accessible name.
import { useEffect, useRef } from "preact/hooks";
import type { Signal } from "@preact/signals";
import { paint, slots, summary, type Beat } from "../lib/heartbeat";
import { paintLater, track } from "../lib/canvas";
import { colours, themeVersion } from "../lib/theme";

const W = 120;
const H = 16;

export function Heartbeat({ beats, check = true }: { beats: Signal<Beat[]>; check?: boolean }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => track(ref.current!, W, H), []);
  const value = beats.value;
  const theme = themeVersion.value;
  useEffect(() => {
    const kinds = slots(value);
    paintLater(ref.current!, (ctx, w, h) => {
      const c = colours();
      paint(ctx, kinds, w, h, { ok: c.ok, bad: c.bad, none: c.idle });
    });
  }, [value, theme]);
  return <canvas ref={ref} class="heartbeat" width={W} height={H} role="img" aria-label={check || value.length ? summary(value) : "health: no check configured"} />;
}
