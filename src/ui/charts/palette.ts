// Colours that stay distinguishable with every common colour-vision deficiency: the Okabe-Ito palette (yellow
// left out, too faint on white), plus dash patterns so lines also differ in greyscale and on washed-out projectors.

export const OKABE_ITO = {
  blue: '#0072B2',
  vermillion: '#D55E00',
  green: '#009E73',
  purple: '#CC79A7',
  orange: '#E69F00',
  skyBlue: '#56B4E9',
  black: '#000000',
} as const;

/** The n-th line of a chart: colour and dash pattern (solid first). */
export const SERIES_STYLES: readonly { color: string; dash: readonly number[] }[] = [
  { color: OKABE_ITO.blue, dash: [] },
  { color: OKABE_ITO.vermillion, dash: [7, 3] },
  { color: OKABE_ITO.green, dash: [2, 2] },
  { color: OKABE_ITO.purple, dash: [8, 3, 2, 3] },
  { color: OKABE_ITO.orange, dash: [4, 4] },
  { color: OKABE_ITO.skyBlue, dash: [1, 3] },
];

/** Plot furniture, used as SVG attributes (not CSS) so exported images look exactly like the page. */
export const CHART_INK = {
  text: '#1d2430',
  muted: '#5b6678',
  grid: '#e3e7ee',
  axis: '#8a94a6',
  background: '#ffffff',
  hyper: '#1d2430',
  grok: OKABE_ITO.green,
  divergence: OKABE_ITO.vermillion,
  // Key moments: colours no chart of the classroom uses for a line, drawn as badges with dark text on them
  // (contrast 6-10:1), so the labels stay readable however light the colour.
  memorisation: OKABE_ITO.orange,
  grokking: OKABE_ITO.green,
  decayDriven: OKABE_ITO.purple,
  edgeNecessary: OKABE_ITO.skyBlue,
  calloutText: '#000000',
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
} as const;
