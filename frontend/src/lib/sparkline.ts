// The memory sparkline's painter: a line over the last hour's samples, scaled to their own range
// (from 0, so a flat line at the top still reads "steady, not empty").

export function paintSparkline(
  ctx: CanvasRenderingContext2D,
  values: readonly number[],
  width: number,
  height: number,
  colour: string,
) {
  ctx.clearRect(0, 0, width, height);
  if (values.length < 2) return;
  let max = 0;
  for (const v of values) if (v > max) max = v;
  if (max <= 0) max = 1;
  const step = width / (values.length - 1);
  ctx.beginPath();
  for (let i = 0; i < values.length; i++) {
    const x = i * step;
    const y = height - 1 - (values[i]! / max) * (height - 2);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  }
  ctx.strokeStyle = colour;
  ctx.lineWidth = 1.25;
  ctx.stroke();
}
