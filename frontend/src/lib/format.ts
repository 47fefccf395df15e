// Text for numbers and times shown in the service screens: durations, countdowns, memory, percentages.
// Pure functions (tested in format.test.ts); screens never format inline.

/** `45s`, `12m 03s`, `4h 12m`, `3d 4h`: the two largest units. Negative or missing: `—`. */
export function fmtDuration(seconds: number | undefined | null): string {
  if (seconds === undefined || seconds === null || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(s % 60)}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${pad(m % 60)}m`;
  const d = Math.floor(h / 24);
  return `${d}d ${h % 24}h`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Time left until `target` (ms since epoch) at `now`: `in 2h 03m`, `in 59s`; past or now: `due`. */
export function fmtCountdown(target: number, now: number): string {
  const left = Math.ceil((target - now) / 1000);
  if (!Number.isFinite(left)) return "—";
  if (left <= 0) return "due";
  return `in ${fmtDuration(left)}`;
}

/** Resident memory given in MiB: `812 KB`, `12.3 MB`, `1.21 GB`. */
export function fmtMem(mb: number | undefined | null): string {
  if (mb === undefined || mb === null || !Number.isFinite(mb)) return "—";
  if (mb < 1) return `${Math.round(mb * 1024)} KB`;
  if (mb < 1024) return `${mb < 100 ? mb.toFixed(1) : Math.round(mb)} MB`;
  return `${(mb / 1024).toFixed(2)} GB`;
}

/** Bytes: `512 B`, `3.4 KB`, `12.0 MB`, `1.50 GB`. */
export function fmtBytes(b: number | undefined | null): string {
  if (b === undefined || b === null || !Number.isFinite(b)) return "—";
  if (b < 1024) return `${b} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = b / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** CPU in % of one core: `0.4%`, `12%`, `180%`. */
export function fmtCpu(p: number | undefined | null): string {
  if (p === undefined || p === null || !Number.isFinite(p)) return "—";
  return p < 10 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

/** A wire time (RFC 3339) in the browser's zone: `23:04:05` today, else `Dec 4 23:04`. */
export function fmtTime(iso: string | undefined, now: Date = new Date()): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === now.toDateString()) return hms;
  return `${d.toLocaleString("en", { month: "short" })} ${d.getDate()} ${hms.slice(0, 5)}`;
}

/** `3s ago`, `5m 02s ago`; future times read `in ...`. */
export function fmtAgo(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = (now - t) / 1000;
  return s >= 0 ? `${fmtDuration(s)} ago` : fmtCountdown(t, now);
}
