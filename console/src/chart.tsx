// Requests and denials per minute, drawn with uPlot (canvas; no inline style attributes).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export function RequestsChart(props: {
  readonly times: readonly number[];
  readonly requests: readonly number[];
  readonly denials: readonly number[];
}) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || props.times.length === 0) return;
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth || 800),
        height: 220,
        series: [
          {},
          { label: 'Requests', stroke: '#1d4ed8', width: 2 },
          { label: 'Denials', stroke: '#b91c1c', width: 2 },
        ],
        axes: [{}, { label: 'per minute' }],
        // A single minute would otherwise stretch the axis over years: show ±5 minutes around it.
        scales: {
          x: {
            time: true,
            range: (_u, min, max) => (min === max ? [min - 300, max + 300] : [min, max]),
          },
        },
      },
      [[...props.times], [...props.requests], [...props.denials]],
      el,
    );
    return () => plot.destroy();
  }, [props.times, props.requests, props.denials]);
  if (props.times.length === 0) return <p class="muted">No requests in this window.</p>;
  return (
    <figure class="chart">
      <div ref={ref} />
      <figcaption class="visually-hidden">
        Requests and denials per minute, {props.times.length} minutes,{' '}
        {props.requests.reduce((a, b) => a + b, 0)} requests, {props.denials.reduce((a, b) => a + b, 0)}{' '}
        denials.
      </figcaption>
    </figure>
  );
}
