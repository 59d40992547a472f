// What a run trains on, as plain data: the preset names, the modular-arithmetic operations and the task spec
// a run file records. The generators live in src/tasks/ and the presets in src/train/presets.ts, which are
// typed against these names (so the schemas' enums and the code cannot drift apart).

/** The presets (src/train/presets.ts), in the order the tools list them. */
export const PRESET_NAMES = ['modarith', 'dyck', 'quick-add', 'quick-dyck', 'scan', 'quick-scan', 'multitask', 'quick-multitask'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

/** The modular-arithmetic operations (src/tasks/modarith.ts: MOD_OPS). */
export const MOD_OP_NAMES = ['add', 'sub', 'mul', 'x2y2', 'x2xyy2', 'x3xy'] as const;
export type ModOp = (typeof MOD_OP_NAMES)[number];

/** The task kinds of TaskSpec. */
export const TASK_KINDS = ['modarith', 'multitask', 'dyck', 'scan'] as const;

/** The data a preset trains on, as plain data (it goes into the run file); everything else here is task-agnostic. */
export type TaskSpec =
  | { kind: 'modarith'; p: number; op: ModOp; trainFraction: number }
  | { kind: 'multitask'; p: number; ops: ModOp[]; trainFraction: number }
  | { kind: 'dyck' }
  | { kind: 'scan' };
