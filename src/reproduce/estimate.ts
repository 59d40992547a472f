// What a unit costs before it runs: its optimiser steps (training plus the weight-decay branches it asks for) and a
// lower bound of its GPU time from the training step rates measured on an H100 (issue 21: modarith 1.79 ms a step,
// dyck 2.3-2.5, quick-add 0.97). Evaluations, spectral windows and analyses come on top, so the bound only refuses
// budgets that cannot fit a unit at all; the report's measured wall times are the real figures.
import { resolveRunConfig } from '../train/run';
import type { PresetName } from '../formats/task';
import type { StudyPlan, UnitSpec } from './study';

/** ms per training step on an H100 (measured where stated; the others scaled from those by their dispatch counts). */
export const H100_MS_PER_STEP: Record<PresetName, number> = {
  modarith: 1.79,
  dyck: 2.4,
  'quick-add': 0.97,
  // Not measured on an H100: the same dispatch-bound step as their paper presets (quick-dyck as dyck, quick-multitask
  // as quick-add, quick-scan as dyck: 1+1 layers with cross-attention, about dyck's 2 layers' dispatches), and
  // SCAN's 3+3 layers with cross-attention at about three times dyck's dispatches.
  'quick-dyck': 2.4,
  'quick-multitask': 0.97,
  multitask: 1.79,
  scan: 7.2,
  'quick-scan': 2.4,
};

const DECAY_BRANCHES = 4;

/** Optimiser steps of a unit: its run and every weight-decay branch it asks for. */
export function unitSteps(unit: UnitSpec): number {
  if (unit.kind === 'phase-cell') return unit.plan.steps;
  const config = resolveRunConfig(unit.preset, unit.seed, unit.overrides);
  const branches = unit.analyses.reduce((s, a) => s + (a.experiments.includes('wd-intervention') ? DECAY_BRANCHES * (a.interventionSteps ?? 3000) : 0), 0);
  return config.steps + branches;
}

export function unitPreset(unit: UnitSpec): PresetName {
  return unit.kind === 'run' ? unit.preset : unit.plan.preset;
}

/** A lower bound of a unit's GPU time on an H100: its steps at the measured step rate. */
export function unitLowerBoundMs(unit: UnitSpec): number {
  return unitSteps(unit) * H100_MS_PER_STEP[unitPreset(unit)];
}

export function studySteps(plan: StudyPlan): { steps: number; lowerBoundMs: number } {
  return plan.units.reduce((acc, u) => ({ steps: acc.steps + unitSteps(u), lowerBoundMs: acc.lowerBoundMs + unitLowerBoundMs(u) }), { steps: 0, lowerBoundMs: 0 });
}
