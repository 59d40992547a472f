// Device acquisition. The engine never looks for a GPU by itself: the browser passes `navigator.gpu`,
// Node passes the Dawn instance from `node-gpu.ts`. Everything after this point is identical.

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** True for CPU implementations (SwiftShader): useful to pick tiny presets and to label benchmarks. */
  isSoftware: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: AdapterSummary;
  hasTimestampQuery: boolean;
}

export function summariseAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  // Browsers often leave `description` empty (SwiftShader in Chromium reports only vendor and architecture).
  const description = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unnamed adapter';
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    description,
    isSoftware: /swiftshader|llvmpipe|software|cpu/i.test(`${info.vendor} ${info.architecture} ${description}`),
  };
}

/**
 * The same device with the kernels and graph of a hardware adapter, even where the adapter is software (SwiftShader):
 * the GPU path, run on the CPU, to check it without a GPU (slow).
 */
export function withHardwareKernels(acquired: AcquiredDevice): AcquiredDevice {
  return { ...acquired, adapter: { ...acquired.adapter, isSoftware: false } };
}

/** Limits to request below the adapter's own (to see how the lab runs on a smaller adapter). */
export type LimitCaps = Partial<Record<'maxStorageBuffersPerShaderStage', number>>;

/**
 * Requests the adapter's own limits (not the WebGPU defaults), so large models can use what the GPU has, or less where
 * `caps` says so.
 */
export async function acquireDevice(gpu: GPU | undefined, label = 'spectral-edge-lab', caps: LimitCaps = {}): Promise<AcquiredDevice> {
  if (!gpu) {
    throw new WebGpuUnavailableError(
      'WebGPU is not available here: this browser has no navigator.gpu. Use a recent Chrome or Edge, or Firefox/Safari with WebGPU enabled.',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailableError('WebGPU is present but no GPU adapter was found (the GPU may be blocklisted or disabled).');
  }
  const hasTimestampQuery = adapter.features.has('timestamp-query');
  const limits: Record<string, number> = {};
  for (const key of [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBuffersPerShaderStage',
  ] as const) {
    limits[key] = Math.min(adapter.limits[key], caps[key as keyof LimitCaps] ?? Infinity);
  }
  const device = await adapter.requestDevice({
    label,
    requiredLimits: limits,
    requiredFeatures: hasTimestampQuery ? ['timestamp-query'] : [],
  });
  return { device, adapter: summariseAdapter(adapter), hasTimestampQuery };
}
