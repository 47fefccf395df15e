// CPU, memory and disk of one service over 1 h / 24 h / 7 d, as three uPlot charts sharing one cursor
// (hovering one shows the same instant on all). uPlot is only imported here, and this file only by the
// service screen, so it loads with that route and not with the overview.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { get, seg } from "../api";
import { fmtBytes, fmtCpu, fmtMem } from "../lib/format";
import { RANGES, metricsQuery, range as rangeOf, type RangeKey } from "../lib/ranges";
import { noDisk, toSeries, type Series } from "../lib/series";
import { colours, themeVersion } from "../lib/theme";
import type { MetricsHistory } from "../lib/types";

const HEIGHT = 150;

interface ChartSpec {
  key: "cpu" | "mem" | "disk";
  title: string;
  fmt: (v: number) => string;
  /** Axis tick labels (finer than `fmt` where ticks are close together). */
  tick?: (v: number) => string;
}

const CHARTS: ChartSpec[] = [
  { key: "cpu", title: "CPU (% of one core)", fmt: (v) => fmtCpu(v), tick: (v) => `${+v.toFixed(2)}%` },
  { key: "mem", title: "Memory", fmt: (v) => fmtMem(v) },
  { key: "disk", title: "Disk (watch dirs)", fmt: (v) => fmtBytes(v) },
];

function data(spec: ChartSpec, s: Series): uPlot.AlignedData {
  if (spec.key === "cpu") return [s.x, s.cpu, s.cpuMax];
  if (spec.key === "mem") return [s.x, s.mem, s.memMax];
  return [s.x, s.disk];
}

function Chart({ spec, series, syncKey, span }: { spec: ChartSpec; series: Series; syncKey: string; span: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(series);
  latest.current = series;
  const theme = themeVersion.value;
  useEffect(() => {
    const el = ref.current!;
    const c = colours();
    const axis = { stroke: c.fgSoft, grid: { stroke: c.border, width: 1 }, ticks: { stroke: c.border, width: 1 } };
    const fmt = (_u: uPlot, v: number | null) => (v === null || v === undefined ? "—" : spec.fmt(v));
    const ys: uPlot.Series[] =
      spec.key === "disk"
        ? [{ label: "disk", stroke: c.accent, width: 1.5, value: fmt }]
        : [
            { label: "avg", stroke: c.accent, width: 1.5, value: fmt },
            { label: "max", stroke: c.warn, width: 1, dash: [4, 3], value: fmt },
          ];
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      cursor: { sync: { key: syncKey }, drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true, range: () => [Date.now() / 1000 - span, Date.now() / 1000] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { ...axis, space: 70 },
        { ...axis, size: 64, values: (_u, vals) => vals.map((v) => (spec.tick ?? spec.fmt)(v)) },
      ],
      series: [{}, ...ys],
    };
    const u = new uPlot(opts, data(spec, latest.current), el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height: HEIGHT }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [theme, span]);
  // A periodic re-read only swaps the data: the chart (and the cursor on it) stays.
  useEffect(() => {
    plot.current?.setData(data(spec, series));
  }, [series]);
  return (
    <figure class="chart">
      <figcaption>{spec.title}</figcaption>
      <div ref={ref} />
    </figure>
  );
}

export function MetricsCharts({ name }: { name: string }) {
  const [key, setKey] = useState<RangeKey>("1h");
  const [series, setSeries] = useState<Series | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    const load = () =>
      get<MetricsHistory>(`/api/services/${seg(name)}/metrics${metricsQuery(key)}`).then(
        (h) => alive && (setSeries(toSeries(h.points, h.step_s)), setError(null)),
        (e) => alive && setError(String(e instanceof Error ? e.message : e)),
      );
    setSeries(null);
    load();
    // New points arrive one step at a time; re-read at that pace (at least every 30 s).
    const timer = setInterval(load, Math.max(30, rangeOf(key).step) * 1000);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [name, key]);
  const syncKey = `metrics-${name}`;
  const span = rangeOf(key).span;
  return (
    <div>
      <div class="row" role="group" aria-label="Time range">
        {RANGES.map((r) => (
          <button key={r.key} type="button" aria-pressed={r.key === key} onClick={() => setKey(r.key)}>
            {r.label}
          </button>
        ))}
      </div>
      {error ? <p role="alert" class="error-box">{error}</p> : null}
      {!series ? (
        <p class="muted" aria-busy="true">
          Loading…
        </p>
      ) : series.x.length === 0 ? (
        <p class="muted">No samples in this range yet.</p>
      ) : (
        <div class="charts">
          {CHARTS.filter((c) => c.key !== "disk" || !noDisk(series)).map((c) => (
            <Chart key={c.key} spec={c} series={series} syncKey={syncKey} span={span} />
          ))}
          {noDisk(series) ? <p class="muted">No disk figures: the service has no watch_dirs or working_dir.</p> : null}
        </div>
      )}
    </div>
  );
}
