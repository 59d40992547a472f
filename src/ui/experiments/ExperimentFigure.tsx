// One experiment figure: an SVG drawn by a Draw function (svg-plot.ts) at the figure's on-screen width, with an
// export menu: PNG at twice that size and SVG (the same drawing again, titled, on a white background: the
// rasterising and serialising of src/ui/charts/chart-export.ts) and the plotted data as JSON.
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'react';
import { download, downloadJson, PNG_SCALE, rasteriseSvg, svgDocumentText } from '../charts/chart-export';
import type { Draw, DrawOptions } from './svg-plot';
import { reportExperimentError } from './experiment-actions';
import { ExportMenu } from '../charts/ExportMenu';
import { errorMessage } from '../../util/error-message';

export const FIGURE_DATA_KIND = 'spectral-edge-lab.experiment-figure';
export const FIGURE_DATA_VERSION = 1;

interface Props {
  /** File names `${fileBase}-${id}.png|svg|json`; data-testid `figure-${id}`. */
  id: string;
  title: string;
  description?: string;
  /** The figure's height for a width (bar plots grow with their rows and legend). */
  height: number | ((width: number) => number);
  draw: Draw;
  /** What the JSON export holds besides its header. */
  data: unknown;
  fileBase: string;
  /** Said to screen readers in place of the drawing. */
  summary: string;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const heightAt = (height: Props['height'], width: number) => Math.round(typeof height === 'number' ? height : height(width));

export function ExperimentFigure({ id, title, description, height, draw, data, fileBase, summary }: Props) {
  const titleId = useId();
  const boxRef = useRef<HTMLDivElement>(null);
  const svgRef = useRef<SVGSVGElement>(null);
  const [width, setWidth] = useState(0);

  useLayoutEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    const measure = () => setWidth(Math.floor(box.clientWidth));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(box);
    return () => observer.disconnect();
  }, []);

  const size = width > 0 ? { width, height: heightAt(height, width) } : null;
  useEffect(() => {
    if (svgRef.current && size) draw(svgRef.current, size, {});
  }, [draw, size?.width, size?.height]); // eslint-disable-line react-hooks/exhaustive-deps

  const exportAs = async (format: 'png' | 'svg' | 'json') => {
    if (!size) return;
    const name = `${fileBase}-${id}.${format}`;
    if (format === 'json') return downloadJson({ kind: FIGURE_DATA_KIND, version: FIGURE_DATA_VERSION, figure: id, title, data }, name);
    const svg = document.createElementNS(SVG_NS, 'svg');
    const options: DrawOptions = { title, background: true };
    draw(svg, size, options);
    if (format === 'svg') return download(new Blob([svgDocumentText(svg)], { type: 'image/svg+xml' }), name);
    download(await rasteriseSvg(svg, size.width, size.height), name);
  };

  const onExport = (format: 'png' | 'svg' | 'json') =>
    exportAs(format).catch((error: unknown) => reportExperimentError(`Could not export “${title}” as ${format.toUpperCase()}: ${errorMessage(error)}`));

  return (
    <figure className="experiment-figure" aria-labelledby={titleId} data-figure={id}>
      <figcaption className="chart-header">
        <h4 id={titleId}>{title}</h4>
        <ExportMenu
          title={title}
          choices={[
            { format: 'png', label: 'PNG', what: `image, ${PNG_SCALE}x the screen size`, disabled: !size },
            { format: 'svg', label: 'SVG', what: 'vector image', disabled: !size },
            { format: 'json', label: 'JSON', what: 'plotted data' },
          ]}
          onChoose={(format) => void onExport(format)}
        />
      </figcaption>
      {description && <p className="chart-description">{description}</p>}
      <div ref={boxRef} className="experiment-svg" role="img" aria-label={summary} data-testid={`figure-${id}`} data-width={size?.width ?? 0} data-height={size?.height ?? 0}>
        <svg ref={svgRef} aria-hidden="true" />
      </div>
    </figure>
  );
}
