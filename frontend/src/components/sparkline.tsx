// Memory over the last hour as a line on a small canvas, painted in the shared per-frame batch.
import { useEffect, useRef } from "preact/hooks";
import type { Signal } from "@preact/signals";
import { paintLater, track } from "../lib/canvas";
import { paintSparkline } from "../lib/sparkline";
import { colours, themeVersion } from "../lib/theme";

const W = 64;
const H = 18;

export function Sparkline({ values, label }: { values: Signal<number[]>; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => track(ref.current!, W, H), []);
  const v = values.value;
  const theme = themeVersion.value;
  useEffect(() => {
    paintLater(ref.current!, (ctx, w, h) => paintSparkline(ctx, v, w, h, colours().accent));
  }, [v, theme]);
  return <canvas ref={ref} class="sparkline" width={W} height={H} role="img" aria-label={label} />;
}
