// The report's figures as PNG: the SVG text the lab's plot code draws (src/reproduce/figures.ts), rasterised in Node
// by resvg (@resvg/resvg-js, prebuilt binaries from the npm registry) with the DejaVu fonts the lab installs
// (dejavu-fonts-ttf), never the machine's own fonts, so every machine draws the same pixels. Node only: a rasteriser
// has no place in the browser bundle, which exports the SVG.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';

/** PNGs are drawn at this multiple of the SVG's size, sharp on high-density screens and in print. */
export const PNG_SCALE = 2;

const fontDir = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => join(fontDir, f));

/** The PNG of an SVG document with a width attribute, drawn at PNG_SCALE times that width. */
export function svgToPng(svg: string): Buffer {
  const width = Number(/<svg[^>]*\swidth="(\d+(?:\.\d+)?)"/.exec(svg)?.[1]);
  if (!(width > 0)) throw new Error('svgToPng: the SVG has no width attribute');
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'width', value: Math.round(width * PNG_SCALE) },
    font: { loadSystemFonts: false, fontFiles: FONT_FILES, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
