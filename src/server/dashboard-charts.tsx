/** Colours of the answer modes in the dashboard's charts. */
export const MODE_COLORS: Record<string, string> = {
  extractive: "#0969da",
  generated: "#8250df",
  not_found: "#cf222e",
};

/** One bar: a label and the stacked values by mode. */
export interface Bar {
  label: string;
  values: Record<string, number>;
}

/** One point of a line chart. */
export interface Point {
  label: string;
  value: number;
}

const W = 600;
const H = 180;
const PAD = { left: 40, right: 8, top: 10, bottom: 22 };

/** A round axis maximum ≥ `n` (1, 2, 5 × 10^k). */
function niceMax(n: number): number {
  if (n <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

function Axes(props: { max: number; labels: string[] }) {
  const { max, labels } = props;
  const step = Math.max(1, Math.ceil(labels.length / 6));
  const x = (i: number) => PAD.left + ((i + 0.5) * (W - PAD.left - PAD.right)) / labels.length;
  return (
    <g class="axes" font-size="11" fill="#57606a">
      {[0, 0.5, 1].map((f) => {
        const y = PAD.top + (1 - f) * (H - PAD.top - PAD.bottom);
        return (
          <g>
            <line x1={PAD.left} x2={W - PAD.right} y1={y} y2={y} stroke="#eaeef2" />
            <text x={PAD.left - 4} y={y + 4} text-anchor="end">
              {Math.round(max * f).toLocaleString("en")}
            </text>
          </g>
        );
      })}
      {labels.map((l, i) =>
        i % step === 0 || i === labels.length - 1 ? (
          <text x={x(i)} y={H - 6} text-anchor="middle">
            {l}
          </text>
        ) : null,
      )}
    </g>
  );
}

/** A stacked bar chart as inline SVG (no script), one bar per label, stacked by mode. */
export function BarChart(props: { id: string; title: string; bars: Bar[] }) {
  const totals = props.bars.map((b) => Object.values(b.values).reduce((a, c) => a + c, 0));
  const max = niceMax(Math.max(0, ...totals));
  const inner = H - PAD.top - PAD.bottom;
  const slot = (W - PAD.left - PAD.right) / Math.max(1, props.bars.length);
  return (
    <svg id={props.id} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
      <title>{props.title}</title>
      <Axes max={max} labels={props.bars.map((b) => b.label)} />
      {props.bars.map((b, i) => {
        let y = PAD.top + inner;
        return (
          <g>
            {Object.keys(MODE_COLORS).map((mode) => {
              const v = b.values[mode] ?? 0;
              if (v <= 0) return null;
              const h = (v / max) * inner;
              y -= h;
              return (
                <rect
                  class={`bar bar-${mode}`}
                  x={PAD.left + i * slot + slot * 0.15}
                  y={y}
                  width={slot * 0.7}
                  height={h}
                  fill={MODE_COLORS[mode]}
                >
                  <title>{`${b.label}: ${v} ${mode.replace("_", " ")}`}</title>
                </rect>
              );
            })}
          </g>
        );
      })}
    </svg>
  );
}

/** A line chart as inline SVG (no script); `max` fixes the axis (e.g. 100 for a percentage). */
export function LineChart(props: {
  id: string;
  title: string;
  points: Point[];
  color: string;
  max?: number;
}) {
  const max = props.max ?? niceMax(Math.max(0, ...props.points.map((p) => p.value)));
  const inner = H - PAD.top - PAD.bottom;
  const n = Math.max(1, props.points.length);
  const xy = props.points.map((p, i) => [
    PAD.left + ((i + 0.5) * (W - PAD.left - PAD.right)) / n,
    PAD.top + (1 - Math.min(p.value, max) / max) * inner,
  ]);
  const d = xy.map(([x, y], i) => `${i === 0 ? "M" : "L"}${x!.toFixed(1)},${y!.toFixed(1)}`).join(" ");
  return (
    <svg id={props.id} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
      <title>{props.title}</title>
      <Axes max={max} labels={props.points.map((p) => p.label)} />
      <path class="line" d={d} fill="none" stroke={props.color} stroke-width="2" />
      {xy.map(([x, y], i) => (
        <circle cx={x} cy={y} r="2.5" fill={props.color}>
          <title>{`${props.points[i]!.label}: ${props.points[i]!.value}`}</title>
        </circle>
      ))}
    </svg>
  );
}
