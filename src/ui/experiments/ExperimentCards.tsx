// The result cards of the experiment panels, one per experiment of an analysis file: each says "not computed yet"
// (and how to compute it) or why the experiment does not apply, until there is a result to draw. Figures are
// ExperimentFigures (exportable as PNG, SVG and JSON); tables are plain HTML tables.
import { useMemo, useState, type ReactNode } from 'react';
import type { AnalysisFile, ExperimentResults, ResultOf } from '../../formats/analysis-file';
import { HESSIAN_RELATIVE_RESIDUAL_LIMIT, hessianPairQuality } from '../../analysis/experiments';
import type { ExperimentName, FieldBasis } from '../../formats/experiments';
import type { ExperimentProgress } from '../../formats/worker';
import { lowAccuracyCaveat } from '../../analysis/verdict';
import { ExperimentFigure } from './ExperimentFigure';
import {
  BASIS_LABEL, EXPERIMENT_INFO, PERTURB_METRIC_LABEL, ablationBars, ablationRatioText, analysisFileBase, curvatureBars, decayRows,
  defaultModeBasis, formatNumber, formatPercent, formatSeconds, formatSigned, hasOffDiagonalModes, heatmapData, modeBases, modeRows, modeSpectrumPlot,
  outcomeView, pendingText, perturbationPlot, probeRows, type ModePairs, type PerturbMetric,
} from './experiment-data';
import { barPlotHeight, drawBarPlot, drawHeatmap, drawLinePlot } from './svg-plot';

const FIGURE_HEIGHT = 260;

/** The request the worker is running (null: none): the cards it will fill say so instead of "not computed yet". */
export type CardProgress = { planned: readonly ExperimentName[]; current: ExperimentProgress | null } | null;

interface CardProps<K extends keyof ExperimentResults> {
  name: K;
  file: AnalysisFile | null;
  progress: CardProgress;
  /** Draws the result (called only when there is one). */
  children: (result: ResultOf<K>, file: AnalysisFile) => ReactNode;
  wide?: boolean;
}

/** A card for experiment `name`: its result, its reason for not applying, or how to compute it. */
function ExperimentCard<K extends keyof ExperimentResults>({ name, file, progress, children, wide }: CardProps<K>) {
  const pending = progress ? pendingText(name, progress.planned, progress.current) : null;
  const view = pending ? ({ state: 'pending' } as const) : outcomeView(file, name);
  const { label } = EXPERIMENT_INFO[name];
  return (
    <section className={`chart-card experiment-card${wide ? ' wide' : ''}`} aria-label={label} data-testid={`experiment-${name}`} data-state={view.state}>
      <header className="chart-header">
        <h3>{label}</h3>
        {view.state === 'done' && <span className="muted small">{formatSeconds(view.wallMs)}</span>}
      </header>
      {view.state === 'done' && file ? (
        children(view.result, file)
      ) : (
        <p className="chart-empty static">
          {view.state === 'pending'
            ? pending
            : view.state === 'not-applicable'
            ? `Does not apply to this run: ${view.reason}.`
            : `Not computed yet: tick “${label}” above and press Run experiments (${EXPERIMENT_INFO[name].what}).`}
        </p>
      )}
    </section>
  );
}

const PERTURB_METRICS = Object.keys(PERTURB_METRIC_LABEL) as PerturbMetric[];

function PerturbationFigure({ result, file }: { result: ResultOf<'perturb'>; file: AnalysisFile }) {
  const [metric, setMetric] = useState<PerturbMetric>('kl');
  const plot = useMemo(() => perturbationPlot(result, metric), [result, metric]);
  const draw = useMemo(() => drawLinePlot(plot, { x: 'ε (step along the unit direction)', y: PERTURB_METRIC_LABEL[metric], zeroX: true }), [plot, metric]);
  const edgeMax = Math.max(...result.summary.edgeMaxKl.slice(0, 2));
  return (
    <>
      <label className="inline-select">
        Show{' '}
        <select value={metric} onChange={(e) => setMetric(e.target.value as PerturbMetric)}>
          {PERTURB_METRICS.map((m) => (
            <option key={m} value={m}>
              {PERTURB_METRIC_LABEL[m]}
            </option>
          ))}
        </select>
      </label>
      <ExperimentFigure
        id={`perturbation-${metric}`}
        title={`Perturbation along the edge: ${PERTURB_METRIC_LABEL[metric]}`}
        description={`θ_attn + ε v on ${result.sequences} test sequences; the band is ${result.random.count} random unit directions.`}
        height={FIGURE_HEIGHT}
        draw={draw}
        data={{ metric, ...plot }}
        fileBase={analysisFileBase(file)}
        summary={`Perturbation curves of ${PERTURB_METRIC_LABEL[metric]} for ${plot.lines.length} edge directions against a band of random directions; largest KL along v1 and v2: ${formatNumber(edgeMax)}.`}
      />
    </>
  );
}

function AblationFigure({ result, file }: { result: ResultOf<'ablate'>; file: AnalysisFile }) {
  const layout = useMemo(() => ablationBars(result), [result]);
  const draw = useMemo(() => drawBarPlot(layout, { x: 'Δ test accuracy after removing the directions' }), [layout]);
  const caveat = lowAccuracyCaveat(result.base.accuracy);
  return (
    <>
      <ExperimentFigure
        id="ablation"
        title="Ablation: Δ test accuracy"
        description={`Base accuracy ${formatPercent(result.base.accuracy)} on ${result.scored.toLocaleString('en')} scored targets; each bar projects its directions out of θ_attn.`}
        height={(width) => barPlotHeight(layout, width)}
        draw={draw}
        data={layout}
        fileBase={analysisFileBase(file)}
        summary={`Removing the edge changes test accuracy by ${formatSigned(result.edge.deltaAccuracy)}; random pairs by ${formatNumber(result.random.meanAbsDelta)} on average.`}
      />
      <p className="experiment-note" data-testid="ablation-ratio">
        {ablationRatioText(result)}
      </p>
      {caveat && (
        <p className="experiment-note warning" role="note">
          Caution: {caveat}.
        </p>
      )}
    </>
  );
}

function CurvatureFigure({ result, file }: { result: ResultOf<'curvature'>; file: AnalysisFile }) {
  const layout = useMemo(() => curvatureBars(result), [result]);
  const draw = useMemo(() => drawBarPlot(layout, { x: 'vᵀHv (test loss)' }), [layout]);
  const hessian = result.hessian;
  const quality = hessian && hessianPairQuality(hessian);
  return (
    <>
      <ExperimentFigure
        id="curvature"
        title="Curvature along the edge"
        description="Second difference of the test loss along each direction; the shaded band is what float32 cannot resolve."
        height={(width) => barPlotHeight(layout, width)}
        draw={draw}
        data={{ layout, hessian }}
        fileBase={analysisFileBase(file)}
        summary={`Curvature along v1: ${formatNumber(result.edge[0])}; top Hessian eigenvalue ${formatNumber(hessian?.eigenvalues[0])}.`}
      />
      {hessian && quality && (
        <table className="data-table" aria-label="Top Hessian eigenvalues">
          <thead>
            <tr>
              <th scope="col">Hessian</th>
              {hessian.eigenvalues.map((_, i) => (
                <th scope="col" key={i}>
                  λ{i + 1}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            <tr>
              <th scope="row">eigenvalue</th>
              {hessian.eigenvalues.map((v, i) => (
                <td key={i}>{formatNumber(v)}</td>
              ))}
            </tr>
            <tr>
              <th scope="row">residual / |λ|</th>
              {quality.map((q, i) => (
                <td key={i}>
                  {formatNumber(q.relativeResidual, 2)}
                  {q.estimate && <span className="muted"> (estimate)</span>}
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      )}
      {quality?.some((q) => q.estimate) && (
        <p className="experiment-note">
          Eigenvalues marked as estimates did not converge, or their measured residual ‖Hy − λy‖ is above {HESSIAN_RELATIVE_RESIDUAL_LIMIT} |λ|: finite-difference Hessian-vector
          products are noisy in float32.
        </p>
      )}
    </>
  );
}

/** From this ratio of the diagonal's response to the rest's on, the card warns of its power at k = (p - 1)/2. */
const DIAGONAL_NOTE_RATIO = 1.5;

function ModesFigures({ result, file }: { result: ResultOf<'fourier'>; file: AnalysisFile }) {
  const splitsPairs = hasOffDiagonalModes(result);
  const [chosenPairs, setPairs] = useState<ModePairs>('all');
  const pairs = splitsPairs ? chosenPairs : 'all';
  const bases = modeBases(result, pairs);
  const [chosen, setBasis] = useState<FieldBasis | null>(null);
  const basis = chosen && bases.includes(chosen) ? chosen : defaultModeBasis(result);
  const plot = useMemo(() => (basis ? modeSpectrumPlot(result, basis, pairs) : null), [result, basis, pairs]);
  const draw = useMemo(() => (plot ? drawLinePlot(plot, { x: 'frequency k', y: 'share of non-DC power', integerX: true, dots: plot.x.length <= 40 }) : null), [plot]);
  const heatmap = useMemo(() => (result.gridV1 ? heatmapData(result.gridV1) : null), [result]);
  const drawGrid = useMemo(() => (heatmap ? drawHeatmap(heatmap, { x: 'k₂ (frequency in b)', y: 'k₁ (frequency in a)', value: 'share of power' }) : null), [heatmap]);
  const rows = modeRows(result, pairs);
  const diagonalPairs = result.directions[0]?.offDiagonal?.diagonalPairs ?? 0;
  const ratios = rows.flatMap((r) => (r.diagonalResponseRatio === null ? [] : [r.diagonalResponseRatio]));
  const pairsLabel = pairs === 'all' ? 'all held-out pairs' : 'pairs with a ≠ b';
  return (
    <>
      {splitsPairs && (
        <label className="inline-select">
          Pairs{' '}
          <select value={pairs} onChange={(e) => setPairs(e.target.value as ModePairs)}>
            <option value="all">all held-out pairs</option>
            <option value="offDiagonal">a ≠ b ({diagonalPairs.toLocaleString('en')} pairs a = b left out)</option>
          </select>
        </label>
      )}
      {bases.length > 1 && (
        <label className="inline-select">
          Basis{' '}
          <select value={basis ?? ''} onChange={(e) => setBasis(e.target.value as FieldBasis)}>
            {bases.map((b) => (
              <option key={b} value={b}>
                {BASIS_LABEL[b]}
              </option>
            ))}
          </select>
        </label>
      )}
      {plot && draw && basis && (
        <ExperimentFigure
          id={`modes-${basis}${pairs === 'all' ? '' : '-off-diagonal'}`}
          title={`Functional modes: power spectrum in the ${BASIS_LABEL[basis]} basis${pairs === 'all' ? '' : ', a ≠ b'}`}
          description={`How each direction moves the model's output over ${pairs === 'all' ? `${result.points.toLocaleString('en')} held-out points` : `the ${(result.points - diagonalPairs).toLocaleString('en')} held-out pairs with a ≠ b`}, grouped by ${BASIS_LABEL[basis]}.`}
          height={FIGURE_HEIGHT}
          draw={draw}
          data={{ basis, pairs, ...plot }}
          fileBase={analysisFileBase(file)}
          summary={`Power spectra of v1 to v3 in the ${BASIS_LABEL[basis]} basis against a band of random directions.`}
        />
      )}
      <table className="data-table" aria-label={`Concentration and peak frequency of each direction over ${pairsLabel}`}>
        <thead>
          <tr>
            <th scope="col">direction</th>
            {rows[0]?.bases.map((b) => (
              <th scope="col" key={b.basis}>
                F, peak ({BASIS_LABEL[b.basis]})
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.label} className={row.kind}>
              <th scope="row">{row.label}</th>
              {row.bases.map((b) => (
                <td key={b.basis} title={b.nullConcentration === null ? undefined : `permutation null: F ${formatNumber(b.nullConcentration)}, exceeded by ${formatPercent(b.nullExceedance ?? NaN, 0)} of shuffles`}>
                  {formatNumber(b.concentration)}, k = {b.peakFrequency ?? '–'}
                  {b.nullConcentration !== null && <span className="muted"> (null {formatNumber(b.nullConcentration, 2)})</span>}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {rows[0] && <p className="experiment-note">Uniform level {formatNumber(rows[0].bases[0]?.uniformLevel)}: a concentration F near it has no preferred frequency.</p>}
      {ratios.length > 0 && (
        <p className="experiment-note">
          Pairs with a = b move the residual stream {formatNumber(Math.min(...ratios), 2)}–{formatNumber(Math.max(...ratios), 2)}× as much as the others.
          {Math.max(...ratios) >= DIAGONAL_NOTE_RATIO
            ? ' They all fall in quadratic-residue groups (a·a = a²) and at a − b = 0, so in the log a + log b basis they put power at k = (p − 1)/2 in any direction: compare with the spectra over a ≠ b.'
            : ' That is close to the rest, so leaving them out changes little here.'}
        </p>
      )}
      {heatmap && drawGrid && (
        <ExperimentFigure
          id="modes-2d"
          title="Functional modes: v1's 2-D spectrum over (a, b)"
          height={(width) => Math.min(420, Math.max(220, width * 0.8))}
          draw={drawGrid}
          data={heatmap}
          fileBase={analysisFileBase(file)}
          summary={`Heatmap of v1's power over ${heatmap.p} by ${heatmap.p} frequency pairs.`}
        />
      )}
    </>
  );
}

function ProbeTable({ result }: { result: ResultOf<'probe'> }) {
  return (
    <>
      <table className="data-table" aria-label="Probe R²">
        <thead>
          <tr>
            <th scope="col">probe</th>
            <th scope="col">R², this model</th>
            <th scope="col">R², untrained</th>
            <th scope="col">gain</th>
          </tr>
        </thead>
        <tbody>
          {probeRows(result).map((row) => (
            <tr key={row.kind}>
              <th scope="row">{row.label}</th>
              <td>{formatNumber(row.trained)}</td>
              <td>{formatNumber(row.untrained)}</td>
              <td>{formatSigned(row.gain)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="experiment-note">
        Target: {result.target === 'dyck-depth' ? 'Dyck depth after each token' : 'the decoder’s target token'}; {result.trained.positions.toLocaleString('en')} positions of {result.sequences} test
        sequences, seeded 70/30 split.
      </p>
    </>
  );
}

function DecayTable({ result }: { result: ResultOf<'wd-intervention'> }) {
  return (
    <>
      <table className="data-table" aria-label="Weight-decay intervention">
        <thead>
          <tr>
            <th scope="col">branch</th>
            <th scope="col">steps</th>
            <th scope="col">test acc</th>
            <th scope="col">linear R²</th>
            <th scope="col">attn entropy</th>
            <th scope="col">‖θ‖</th>
          </tr>
        </thead>
        <tbody>
          {decayRows(result).map((row) => (
            <tr key={row.label}>
              <th scope="row">{row.label}</th>
              <td>
                {row.steps.toLocaleString('en')}
                {row.stopReason === 'diverged' && <span className="muted"> (diverged)</span>}
              </td>
              <td>{formatPercent(row.testAccuracy)}</td>
              <td>{formatNumber(row.probeR2)}</td>
              <td>{formatNumber(row.attentionEntropy)}</td>
              <td>{formatNumber(row.thetaNorm)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="experiment-note">
        Each branch continues from step {result.fromStep.toLocaleString('en')} with fresh Adam moments at lr {formatNumber(result.lr)}.
        {result.probe.target === null && ` No linear probe: ${result.probe.reason}.`}
      </p>
    </>
  );
}

const yesNo = (met: boolean | null) => (met === null ? 'not measurable' : met ? 'yes' : 'no');

function VerdictView({ result }: { result: ResultOf<'verdict'> }) {
  return (
    <>
      <p className="verdict" data-testid="verdict-class">
        <strong className={`verdict-${result.class}`}>{result.class}</strong> — {result.reason}
      </p>
      {result.caveat && (
        <p className="experiment-note warning" role="note" data-testid="verdict-caveat">
          Caution: {result.caveat}.
        </p>
      )}
      {result.signs && (
        <ul className="verdict-signs" aria-label="Signs" data-testid="verdict-signs">
          {result.signs.map((s) => (
            <li key={s.sign} data-holds={String(s.holds)}>
              {s.sign}: <strong>{yesNo(s.holds)}</strong>
            </li>
          ))}
        </ul>
      )}
      <table className="data-table" aria-label="The verdict's evidence">
        <thead>
          <tr>
            <th scope="col">quantity</th>
            <th scope="col">value</th>
            <th scope="col">test</th>
            <th scope="col">sign</th>
            <th scope="col">passes</th>
          </tr>
        </thead>
        <tbody>
          {result.evidence.map((e, i) => (
            <tr key={i}>
              <th scope="row">{e.quantity}</th>
              <td>{formatNumber(e.value)}</td>
              <td>{e.threshold}</td>
              <td>{e.sign ?? ''}</td>
              <td>{yesNo(e.met)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** Every experiment's card for `file` (null: none computed yet). */
export function ExperimentCards({ file, progress }: { file: AnalysisFile | null; progress: CardProgress }) {
  return (
    <div className="chart-grid experiment-grid">
      <ExperimentCard name="verdict" file={file} progress={progress}>
        {(r) => <VerdictView result={r} />}
      </ExperimentCard>
      <ExperimentCard name="perturb" file={file} progress={progress}>
        {(r, f) => <PerturbationFigure result={r} file={f} />}
      </ExperimentCard>
      <ExperimentCard name="ablate" file={file} progress={progress}>
        {(r, f) => <AblationFigure result={r} file={f} />}
      </ExperimentCard>
      <ExperimentCard name="curvature" file={file} progress={progress}>
        {(r, f) => <CurvatureFigure result={r} file={f} />}
      </ExperimentCard>
      <ExperimentCard name="fourier" file={file} progress={progress}>
        {(r, f) => <ModesFigures result={r} file={f} />}
      </ExperimentCard>
      <ExperimentCard name="probe" file={file} progress={progress}>
        {(r) => <ProbeTable result={r} />}
      </ExperimentCard>
      <ExperimentCard name="wd-intervention" file={file} progress={progress}>
        {(r) => <DecayTable result={r} />}
      </ExperimentCard>
    </div>
  );
}
