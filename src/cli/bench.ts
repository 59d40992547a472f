// `npm run bench [-- --presets quick-add,dyck|all] [--steps N] [--grok] [--detail] [--bindings N]`: training-step
// throughput of the presets on this machine's WebGPU adapter, printed as one JSON document (keep it comparable
// between commits); the same benchmark, code and JSON as the bench page (src/bench/benchmark.ts). `--sweep`: the step
// over model width and batch size instead (src/bench/sweep.ts). `--bindings 8`: on a device capped at WebGPU's
// guaranteed storage-buffer bindings.
import { acquireNodeDevice } from '../gpu/node-gpu';
import { GpuRuntime } from '../gpu/runtime';
import { isPresetName, PRESET_NAMES, type PresetName } from '../formats/task';
import { integerOption, parseArgs, runCli, UsageError } from './args';
import { BENCH_PRESETS, defaultBenchPresets, runBenchmark } from '../bench/benchmark';
import { runSweep } from '../bench/sweep';

const USAGE = `usage: npm run bench -- [--presets all|name,name...] [--steps N] [--grok] [--detail] [--bindings N] | --sweep
  --presets  presets to time (default every preset, less scan on a software adapter; all: ${PRESET_NAMES.join(', ')})
  --steps    steps per timed measurement (default: as many as take about 2 s, at least 2)
  --grok     also time each preset's default run (seed 1) up to its grok (minutes on a CPU adapter)
  --detail   also time each kernel alone, and the spectral edge's and live causal probes' overheads
  --sweep    time the step over d_model 64..512 and batch sizes, and say where it turns compute-bound
  --bindings N   ask the device for at most N storage buffers per shader stage (8: what WebGPU guarantees, as on
             adapters that give no more; the graphs then make fewer fusions)`;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), { presets: '', steps: '', grok: false, detail: false, sweep: false, bindings: '' });
  const named = args.presets === '' ? null : args.presets === 'all' ? [...BENCH_PRESETS] : args.presets.split(',').map((n) => n.trim());
  for (const n of named ?? []) if (!isPresetName(n)) throw new UsageError(`unknown preset ${n}; choose from ${PRESET_NAMES.join(', ')}`);
  const steps = integerOption('steps', args.steps);
  if (steps !== undefined && steps < 1) throw new UsageError(`--steps must be at least 1, got ${steps}`);
  const bindings = integerOption('bindings', args.bindings);
  if (bindings !== undefined && bindings < 8) throw new UsageError(`--bindings must be at least 8 (WebGPU's guarantee), got ${bindings}`);
  const rt = new GpuRuntime(await acquireNodeDevice(bindings === undefined ? {} : { maxStorageBuffersPerShaderStage: bindings }));
  const onProgress = (message: string) => process.stderr.write(`${message} ...\n`);
  process.stderr.write(`benchmarking on ${rt.adapter.description}, ${rt.limits.maxStorageBuffersPerShaderStage} storage buffers per shader stage\n`);
  const defaults = defaultBenchPresets(rt.adapter.isSoftware);
  const names = named ?? defaults.presets;
  if (!named && defaults.skipped.length > 0) process.stderr.write(`${defaults.skipped.join(', ')} skipped on a software adapter (a step takes minutes): --presets all times it anyway\n`);
  const runtime = `node ${process.version}`;
  const report = args.sweep
    ? await runSweep(rt, runtime, { onProgress })
    : await runBenchmark(rt, runtime, { presets: names as PresetName[], ...(steps !== undefined && { steps }), grok: args.grok, detail: args.detail, onProgress });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  rt.destroy();
  return 0;
}

runCli('bench', main, USAGE);
