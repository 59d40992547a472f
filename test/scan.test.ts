import { describe, expect, it } from 'vitest';
import { SCAN_ACTION_VOCAB, SCAN_COMMAND_VOCAB, SCAN_SPECIAL, decodeScanActions, decodeScanCommand, encodeScanActions, encodeScanCommand, scanCommands, scanPaperSubset, scanSplit, type ScanPair } from '../src/tasks/scan';
import { datasetLines } from '../src/cli/task-text';

// Facts from Lake and Baroni (2018): 20,910 commands, at most 9 words and 48 actions; the length split trains on
// 16,990 commands (<= 22 actions) and tests on 3,920; the add-primitive "jump" test set has 7,706 commands.
const TOTAL = 20910;

/**
 * A recursive-descent parser and interpreter for the grammar, written from the paper's rules and independent of
 * the generator (which composes meanings bottom-up). Returns null for a command the grammar does not derive.
 */
function interpret(words: string[]): string[] | null {
  const U: Record<string, string> = { walk: 'I_WALK', look: 'I_LOOK', run: 'I_RUN', jump: 'I_JUMP' };
  const TURN: Record<string, string> = { left: 'I_TURN_LEFT', right: 'I_TURN_RIGHT' };
  const times = (xs: string[], n: number) => Array.from({ length: n }, () => xs).flat();

  const V = (w: string[]): string[] | null => {
    if (w.length === 1) return w[0] in U ? [U[w[0]]] : null;
    const [x, mid, dir] = w.length === 2 ? [w[0], null, w[1]] : w.length === 3 ? w : [null, null, null];
    if (x === null || dir === null || !(x in U || x === 'turn') || !(dir in TURN)) return null;
    const turnThenAct = x === 'turn' ? [TURN[dir]] : [TURN[dir], U[x]];
    if (mid === null) return turnThenAct; // D -> U left | turn left ...
    if (mid === 'opposite') return [TURN[dir], ...turnThenAct];
    if (mid === 'around') return times(turnThenAct, 4);
    return null;
  };
  const S = (w: string[]): string[] | null => {
    const last = w[w.length - 1];
    const n = last === 'twice' ? 2 : last === 'thrice' ? 3 : 1;
    const v = V(n === 1 ? w : w.slice(0, -1));
    return v && times(v, n);
  };
  for (const [conj, order] of [['and', 1], ['after', -1]] as const) {
    const k = words.indexOf(conj);
    if (k !== -1) {
      const a = S(words.slice(0, k));
      const b = S(words.slice(k + 1));
      return a && b && (order === 1 ? [...a, ...b] : [...b, ...a]);
    }
  }
  return S(words);
}

const key = (p: ScanPair) => p.command.join(' ');

describe('SCAN generated from its grammar', () => {
  const all = scanCommands();

  it('has exactly 20,910 distinct commands, up to 9 words and 48 actions', () => {
    expect(all.length).toBe(TOTAL);
    expect(new Set(all.map(key)).size).toBe(TOTAL);
    expect(Math.max(...all.map((p) => p.command.length))).toBe(9);
    expect(Math.max(...all.map((p) => p.actions.length))).toBe(48);
  });

  it('every command parses under the grammar and means what the interpretation rules say', () => {
    const wrong = all.filter((p) => JSON.stringify(interpret(p.command)) !== JSON.stringify(p.actions));
    expect(wrong).toEqual([]);
  });

  it('the test interpreter rejects non-commands (so the previous check can fail)', () => {
    for (const bad of ['turn', 'walk twice twice', 'jump opposite', 'turn around', 'walk left left', 'and walk', 'walk and']) {
      expect(interpret(bad.split(' '))).toBeNull();
    }
  });

  it('matches interpretations stated directly by the rules', () => {
    const meaning = new Map(all.map((p) => [key(p), p.actions.join(' ')]));
    const L = 'I_TURN_LEFT';
    const R = 'I_TURN_RIGHT';
    expect(meaning.get('jump around left twice')).toBe(Array(8).fill(`${L} I_JUMP`).join(' '));
    expect(meaning.get('turn opposite right')).toBe(`${R} ${R}`);
    expect(meaning.get('turn around left')).toBe(`${L} ${L} ${L} ${L}`);
    expect(meaning.get('look opposite right thrice')).toBe(Array(3).fill(`${R} ${R} I_LOOK`).join(' '));
    expect(meaning.get('walk after run left')).toBe(`${L} I_RUN I_WALK`);
    expect(meaning.get('walk and run left')).toBe(`I_WALK ${L} I_RUN`);
    expect(meaning.get('turn left twice')).toBe(`${L} ${L}`);
    expect(meaning.has('turn twice')).toBe(false);
  });
});

describe('SCAN splits', () => {
  it('length: train <= 22 actions, test longer, 16,990 + 3,920 = 20,910', () => {
    const { train, test } = scanSplit('length', 1);
    expect(Math.max(...train.map((p) => p.actions.length))).toBeLessThanOrEqual(22);
    expect(Math.min(...test.map((p) => p.actions.length))).toBeGreaterThan(22);
    expect([train.length, test.length]).toEqual([16990, 3920]);
  });

  it('addprim_jump: train has "jump" only as the primitive, test is every other "jump" command', () => {
    const { train, test } = scanSplit('addprim_jump', 1);
    const withJump = train.filter((p) => p.command.includes('jump'));
    expect(withJump.map(key)).toEqual(['jump']);
    expect(test.every((p) => p.command.includes('jump'))).toBe(true);
    const allJump = scanCommands().filter((p) => p.command.includes('jump') && key(p) !== 'jump');
    expect(new Set(test.map(key))).toEqual(new Set(allJump.map(key)));
    expect(test.length).toBe(7706);
    expect(train.length + test.length).toBe(TOTAL);
  });

  it('simple: a seeded 80/20 partition of all commands', () => {
    const a = scanSplit('simple', 1);
    expect(a.train.length).toBe(Math.floor(0.8 * TOTAL));
    expect(a.train.length + a.test.length).toBe(TOTAL);
    expect(new Set([...a.train, ...a.test].map(key)).size).toBe(TOTAL);
    expect(scanSplit('simple', 1).test.map(key)).toEqual(a.test.map(key));
    const b = scanSplit('simple', 2);
    const aTest = new Set(a.test.map(key));
    // Two random 20% test sets share about 20% of their commands, far from all of them.
    expect(b.test.filter((p) => aTest.has(key(p))).length).toBeLessThan(0.5 * a.test.length);
  });

  it('the paper subset: 2,048 seeded simple-train pairs and the first 500 simple-test pairs', () => {
    const simple = scanSplit('simple', 5);
    const paper = scanPaperSubset(5);
    expect(paper.train.length).toBe(2048);
    expect(new Set(paper.train.map(key)).size).toBe(2048);
    const simpleTrain = new Set(simple.train.map(key));
    expect(paper.train.every((p) => simpleTrain.has(key(p)))).toBe(true);
    expect(paper.test.map(key)).toEqual(simple.test.slice(0, 500).map(key));
    expect(scanPaperSubset(5).train.map(key)).toEqual(paper.train.map(key));
    expect(scanPaperSubset(6).train.map(key)).not.toEqual(paper.train.map(key));
  });

  it('rejects an unknown split', () => {
    expect(() => scanSplit('random' as never, 1)).toThrow(/unknown SCAN split/);
  });
});

describe('SCAN vocabularies and encoding', () => {
  it('has PAD, SOS, EOS + 13 command words and + 6 actions', () => {
    expect(SCAN_COMMAND_VOCAB.length).toBe(16);
    expect(SCAN_ACTION_VOCAB.length).toBe(9);
    const words = new Set(scanCommands().flatMap((p) => p.command));
    const actions = new Set(scanCommands().flatMap((p) => p.actions));
    expect(new Set(SCAN_COMMAND_VOCAB.slice(3))).toEqual(words);
    expect(new Set(SCAN_ACTION_VOCAB.slice(3))).toEqual(actions);
  });

  it('encodes as SOS, ids, EOS, PAD to 11 / 50 tokens and decodes back', () => {
    const wellFramed = (ids: Uint32Array, n: number, length: number) =>
      ids.length === length && ids[0] === SCAN_SPECIAL.sos && ids[n + 1] === SCAN_SPECIAL.eos && ids.subarray(n + 2).every((t) => t === SCAN_SPECIAL.pad);
    const wrong = scanCommands().filter((p) => {
      const src = encodeScanCommand(p.command);
      const tgt = encodeScanActions(p.actions);
      return (
        !wellFramed(src, p.command.length, 11) ||
        !wellFramed(tgt, p.actions.length, 50) ||
        Array.from(src.subarray(1, p.command.length + 1), (t) => SCAN_COMMAND_VOCAB[t]).join(' ') !== p.command.join(' ') ||
        decodeScanCommand(src).join(' ') !== p.command.join(' ') ||
        decodeScanActions(tgt).join(' ') !== p.actions.join(' ')
      );
    });
    expect(wrong).toEqual([]);
  });

  it('rejects unknown words and sequences that do not fit', () => {
    expect(() => encodeScanCommand(['walk', 'fast'])).toThrow(/not in the vocabulary/);
    expect(() => encodeScanCommand(['<pad>'])).toThrow(/not in the vocabulary/);
    expect(() => encodeScanActions(Array(49).fill('I_WALK'))).toThrow(/do not fit/);
    expect(() => decodeScanActions([SCAN_SPECIAL.sos, 99])).toThrow(/outside the vocabulary/);
  });
});

describe('data CLI lines', () => {
  const fields = /^\S+( \S+)*\t\S+( \S+)*$/;

  it('scan --split all: one "command<TAB>actions" line per pair, 20,910 in all', () => {
    const lines = datasetLines(['--', 'scan', '--split', 'all']);
    expect(lines.length).toBe(TOTAL);
    expect(lines.every((l) => fields.test(l))).toBe(true);
    const parsed = lines.map((l) => l.split('\t').map((f) => f.split(' ')));
    expect(parsed.every(([c, a]) => JSON.stringify(interpret(c)) === JSON.stringify(a))).toBe(true);
  });

  it('scan splits print the requested part', () => {
    const test = datasetLines(['scan', '--split', 'length', '--part', 'test']);
    expect(test.length).toBe(3920);
    expect(test.every((l) => l.split('\t')[1].split(' ').length > 22)).toBe(true);
    expect(datasetLines(['scan', '--split', 'simple', '--part', 'train', '--seed', '3'])).toEqual(
      scanSplit('simple', 3).train.map((p) => `${p.command.join(' ')}\t${p.actions.join(' ')}`),
    );
    expect(datasetLines(['scan', '--split', 'paper', '--part', 'test']).length).toBe(500);
  });

  it('dyck prints 50 train / 5,000 test sequences', () => {
    const train = datasetLines(['dyck', '--part', 'train']);
    expect(train.length).toBe(50);
    expect(train.every((l) => fields.test(l))).toBe(true);
    expect(datasetLines(['dyck', '--part', 'test']).length).toBe(5000);
  });

  it('modarith prints "a b<TAB>c" with c = (a op b) mod p', () => {
    const lines = datasetLines(['modarith', '--p', '97', '--op', 'add', '--fraction', '0.5', '--seed', '42', '--part', 'train']);
    expect(lines.length).toBe(Math.floor(0.5 * 97 * 97));
    for (const l of lines) {
      const [a, b, c] = l.split(/[ \t]/).map(Number);
      expect(c).toBe((a + b) % 97);
    }
    const sub = datasetLines(['modarith', '--p', '7', '--op', 'sub', '--part', 'test']);
    for (const l of sub) {
      const [a, b, c] = l.split(/[ \t]/).map(Number);
      expect((c + b) % 7).toBe(a);
    }
  });

  it('says clearly what is wrong with bad arguments', () => {
    expect(() => datasetLines([])).toThrow(/no task/);
    expect(() => datasetLines(['mnist'])).toThrow(/unknown task mnist/);
    expect(() => datasetLines(['scan', '--split', 'random', '--part', 'train'])).toThrow(/unknown --split random/);
    expect(() => datasetLines(['scan', '--split', 'length'])).toThrow(/--part is required/);
    expect(() => datasetLines(['scan', '--split', 'all', '--part', 'train'])).toThrow(/no parts/);
    expect(() => datasetLines(['dyck', '--part', 'valid'])).toThrow(/unknown --part valid/);
    expect(() => datasetLines(['dyck', '--part', 'train', '--seed', '1'])).toThrow(/unknown option --seed/);
    expect(() => datasetLines(['modarith', '--part', 'train', '--op', 'pow'])).toThrow(/unknown --op pow/);
    expect(() => datasetLines(['modarith', '--part', 'train', '--seed', '1.5'])).toThrow(/--seed must be an integer/);
  });
});
