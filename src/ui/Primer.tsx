// "What am I looking at?": a short primer for a first visit or a class, one small drawing per idea (grokking; the
// update window and its spectrum; gradient against decay driving the edge; ablating the edge) and links to the four
// papers. The drawings are schematic (made here, in code: no downloads) and say so. Folded in the full lab; open
// by default in classroom mode.
import { useEffect, useState, type ReactNode } from 'react';
import { CHART_INK, OKABE_ITO } from './charts/palette';
import { PAPERS, arxivUrl } from './papers';
import { useLab } from './lab';

const W = 220;
const H = 120;
const AXIS = { left: 22, right: W - 8, top: 12, bottom: H - 22 };

/** A smooth step from `low` to `high` around x = `at` (a logistic curve), as an SVG path over the plot's width. */
function stepCurve(at: number, width: number, low: number, high: number): string {
  const points: string[] = [];
  for (let x = AXIS.left; x <= AXIS.right; x += 2) {
    const y = low + (high - low) / (1 + Math.exp(-(x - at) / width));
    points.push(`${x},${y.toFixed(1)}`);
  }
  return `M${points.join('L')}`;
}

function Axes({ x, y }: { x: string; y: string }) {
  return (
    <g fontSize="9" fill={CHART_INK.muted}>
      <path d={`M${AXIS.left},${AXIS.top}V${AXIS.bottom}H${AXIS.right}`} fill="none" stroke={CHART_INK.axis} />
      <text x={AXIS.right} y={H - 8} textAnchor="end">
        {x}
      </text>
      <text x={4} y={AXIS.top + 2} transform={`rotate(-90 4 ${AXIS.top + 2})`} textAnchor="end" dominantBaseline="hanging">
        {y}
      </text>
    </g>
  );
}

function Drawing({ label, children }: { label: string; children: ReactNode }) {
  return (
    <svg className="primer-drawing" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      {children}
    </svg>
  );
}

/** Train accuracy jumps early (memorised), test accuracy much later (grokked). */
function GrokkingDrawing() {
  const [top, bottom] = [AXIS.top + 6, AXIS.bottom - 4];
  return (
    <Drawing label="Sketch: train accuracy reaches 1 early, test accuracy stays low and jumps to 1 much later.">
      <Axes x="step" y="accuracy" />
      <path d={stepCurve(150, 6, bottom, top)} fill="none" stroke={OKABE_ITO.vermillion} strokeWidth="2.5" strokeDasharray="6 3" />
      <path d={stepCurve(42, 4, bottom, top)} fill="none" stroke={OKABE_ITO.blue} strokeWidth="2.5" />
      <g fontSize="10" fontWeight="600">
        <text x={60} y={top + 14} fill={OKABE_ITO.blue}>
          train
        </text>
        <text x={100} y={bottom - 6} fill={OKABE_ITO.vermillion}>
          test
        </text>
        <text x={42} y={H - 8} textAnchor="middle" fill={CHART_INK.text}>
          memorised
        </text>
        <text x={150} y={H - 8} textAnchor="middle" fill={CHART_INK.text}>
          grokked
        </text>
      </g>
    </Drawing>
  );
}

/** A window of update arrows, and the singular values of the window: two stand apart (the edge). */
function WindowDrawing() {
  const arrows = [0, 1, 2, 3, 4];
  const sigmas = [62, 50, 14, 10, 7];
  const base = AXIS.bottom;
  return (
    <Drawing label="Sketch: a window of five parameter updates, and its singular values: the first two stand far above the rest, a gap that is the spectral edge.">
      <g stroke={CHART_INK.text} strokeWidth="1.8" fill="none">
        {arrows.map((i) => (
          <path key={i} d={`M${12 + i * 16},${base - 6}l${10 - (i % 2) * 4},${-44 + (i % 3) * 6}m-5,3l5,-3l1,6`} />
        ))}
      </g>
      <path d={`M8,${base + 4}h84`} stroke={CHART_INK.muted} strokeWidth="1" fill="none" />
      <text x={50} y={H - 4} fontSize="9" textAnchor="middle" fill={CHART_INK.muted}>
        last W updates Δθ
      </text>
      <text x={104} y={base - 30} fontSize="16" fill={CHART_INK.muted}>
        →
      </text>
      {sigmas.map((s, i) => (
        <rect key={i} x={128 + i * 17} y={base - s} width="12" height={s} fill={i < 2 ? OKABE_ITO.blue : CHART_INK.axis} />
      ))}
      <path d={`M${128 + 2 * 17 - 3},${base - 50}v36`} stroke={OKABE_ITO.vermillion} strokeWidth="1.5" strokeDasharray="3 2" />
      <g fontSize="9" fill={CHART_INK.text}>
        <text x={134} y={base + 12} textAnchor="middle">
          σ₁
        </text>
        <text x={151} y={base + 12} textAnchor="middle">
          σ₂
        </text>
        <text x={168} y={base + 12} textAnchor="middle">
          σ₃
        </text>
        <text x={175} y={base - 40} fill={OKABE_ITO.vermillion}>
          gap
        </text>
      </g>
    </Drawing>
  );
}

/** One update split into the gradient's push and weight decay's pull, projected on the edge direction v1. */
function DriveDrawing() {
  const o = { x: 40, y: 80 };
  return (
    <Drawing label="Sketch: an update is the gradient's push plus weight decay's pull back towards zero; their shares along the edge direction v1 say which one drives the edge.">
      <path d={`M${o.x - 30},${o.y + 18}L${W - 20},${o.y - 52}`} stroke={CHART_INK.axis} strokeDasharray="4 3" />
      <text x={W - 20} y={o.y - 56} fontSize="10" textAnchor="end" fill={CHART_INK.muted}>
        edge direction v₁
      </text>
      <g strokeWidth="2.5" fill="none">
        <path d={`M${o.x},${o.y}l110,-40`} stroke={OKABE_ITO.blue} />
        <path d={`M${o.x + 110},${o.y - 40}l-5,-4m5,4l-6,3`} stroke={OKABE_ITO.blue} />
        <path d={`M${o.x},${o.y}l-18,20`} stroke={OKABE_ITO.vermillion} strokeDasharray="5 2" />
        <path d={`M${o.x - 18},${o.y + 20}l1,-6m-1,6l6,-2`} stroke={OKABE_ITO.vermillion} />
      </g>
      <circle cx={o.x} cy={o.y} r="3" fill={CHART_INK.text} />
      <g fontSize="10" fontWeight="600">
        <text x={o.x + 52} y={o.y - 6} fill={OKABE_ITO.blue}>
          gradient
        </text>
        <text x={o.x - 12} y={o.y + 34} fill={OKABE_ITO.vermillion}>
          decay (towards 0)
        </text>
      </g>
    </Drawing>
  );
}

/** Test accuracy after removing the edge directions, against removing random ones. */
function AblationDrawing() {
  const base = AXIS.bottom;
  const bars = [
    { label: ['the', 'model'], h: 70, color: CHART_INK.axis },
    { label: ['edge', 'removed'], h: 16, color: OKABE_ITO.vermillion },
    { label: ['random', 'removed'], h: 66, color: OKABE_ITO.skyBlue },
  ];
  return (
    <Drawing label="Sketch: test accuracy of the model, after removing its edge directions (a large drop) and after removing random directions (almost none).">
      <Axes x="" y="test acc." />
      {bars.map((b, i) => (
        <g key={b.label.join(' ')}>
          <rect x={40 + i * 60} y={base - b.h} width="36" height={b.h} fill={b.color} />
          <text x={58 + i * 60} y={base + 10} fontSize="9" textAnchor="middle" fill={CHART_INK.text}>
            <tspan x={58 + i * 60}>{b.label[0]}</tspan>
            <tspan x={58 + i * 60} dy="10">
              {b.label[1]}
            </tspan>
          </text>
        </g>
      ))}
    </Drawing>
  );
}

interface Idea {
  id: string;
  title: string;
  drawing: () => ReactNode;
  text: ReactNode;
}

const IDEAS: readonly Idea[] = [
  {
    id: 'grokking',
    title: 'Grokking',
    drawing: GrokkingDrawing,
    text: 'The model first memorises its training examples: train accuracy reaches 1 while test accuracy stays low. With weight decay, hundreds of steps later, test accuracy jumps too: it has found the rule. That late jump is grokking (Accuracy chart).',
  },
  {
    id: 'window',
    title: 'The update window and its spectrum',
    drawing: WindowDrawing,
    text: 'Every few steps the lab keeps the change of the attention weights (an update Δθ). The last W updates form a window; its singular values σ₁ ≥ σ₂ ≥ … say how many directions they share. A few large ones standing apart from the rest are the spectral edge; g23 = σ₂² − σ₃² measures the gap under the top two.',
  },
  {
    id: 'drive',
    title: 'Gradient or decay drives the edge',
    drawing: DriveDrawing,
    text: 'Each update is the gradient’s push plus weight decay’s pull towards zero. Along the edge direction v₁, the gradient’s share of the energy says who drives it: above 0.5 the edge is gradient-driven (learning), below 0.5 decay-driven (compressing what was learnt).',
  },
  {
    id: 'ablation',
    title: 'Ablating the edge',
    drawing: AblationDrawing,
    text: 'To test whether the edge matters, remove its directions from the weights and measure test accuracy again, and do the same with random directions. A much larger drop for the edge means it carries what the model computes (the experiment cards below the charts).',
  },
];

/** The primer: folded in the full lab, open by default in classroom mode (and when classroom mode is switched on). */
export function Primer() {
  const classroom = useLab((s) => s.classroom);
  const [open, setOpen] = useState(classroom);
  useEffect(() => setOpen(classroom), [classroom]);
  return (
    <details className="section primer" open={open} onToggle={(e) => setOpen(e.currentTarget.open)} data-testid="primer">
      <summary>What am I looking at?</summary>
      <p className="primer-lead">
        A small transformer learns a task on this computer’s GPU while the lab watches how its attention weights change. The drawings are sketches, not this run.
      </p>
      <div className="primer-ideas">
        {IDEAS.map(({ id, title, drawing: Draw, text }) => (
          <figure key={id} className="primer-idea" data-idea={id}>
            <Draw />
            <figcaption>
              <strong>{title}.</strong> {text}
            </figcaption>
          </figure>
        ))}
      </div>
      <p className="primer-papers-title">The papers</p>
      <ul className="primer-papers">
        {PAPERS.map((paper) => (
          <li key={paper.arxiv}>
            <a href={arxivUrl(paper)} target="_blank" rel="noreferrer">
              {paper.title}
            </a>{' '}
            <span className="muted">
              (arXiv {paper.arxiv}): {paper.about}
            </span>
          </li>
        ))}
      </ul>
    </details>
  );
}
