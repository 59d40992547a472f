// The four papers the lab is written from (docs/science.md), for the primer's links and the presets' descriptions.
export interface Paper {
  arxiv: string;
  title: string;
  /** What the lab takes from it, in a few words. */
  about: string;
}

export const PAPERS: readonly Paper[] = [
  { arxiv: '2603.28964', title: 'The Spectral Edge Thesis', about: 'the update window, its spectrum and the gap flow' },
  { arxiv: '2604.07380', title: 'The Lifecycle of the Spectral Edge', about: 'gradient- vs decay-driven phases of the edge' },
  { arxiv: '2604.06256', title: 'Spectral Edge Dynamics Reveal Functional Modes of Learning', about: 'ablation, perturbation, functional modes' },
  { arxiv: '2606.04405', title: 'The Low-Rank Decay paper', about: 'decaying W_Q and W_K towards low rank' },
];

export const arxivUrl = (paper: Paper) => `https://arxiv.org/abs/${paper.arxiv}`;
