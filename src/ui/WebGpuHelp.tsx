// What to do when the engine cannot run here: the page's most likely first impression on Linux and
// older browsers, so it names concrete browsers and switches.
import type { WebGpuSupport } from './webgpuSupport';
import { actions } from './lab';

type Reason = Extract<WebGpuSupport, { kind: 'unavailable' }>['reason'];

const WHY: Record<Reason, string> = {
  'insecure-context':
    'This page was not loaded from a secure context, and browsers only offer WebGPU to secure pages.',
  'no-api': 'This browser does not offer WebGPU (navigator.gpu is missing).',
  'no-adapter': 'This browser offers WebGPU, but found no GPU adapter to run it on.',
};

export function WebGpuHelp({ reason, detail }: { reason: Reason; detail?: string }) {
  return (
    <section className="panel help" data-testid="webgpu-unavailable" aria-labelledby="webgpu-help-title">
      <h2 id="webgpu-help-title">WebGPU is unavailable</h2>
      <p>
        {WHY[reason]} The lab trains its models in WebGPU compute shaders, so it cannot train here.
      </p>
      {detail && <p className="detail">{detail}</p>}
      <h3>What to do</h3>
      <ul>
        {reason === 'insecure-context' && (
          <li>
            Open the lab over <code>https://</code> or from <code>http://localhost</code>.
          </li>
        )}
        <li>Use a recent desktop Chrome or Edge (version 113 or later), or Safari 26 or later.</li>
        <li>
          On Linux, Chrome and Chromium still need WebGPU switched on: start them with{' '}
          <code>--enable-unsafe-webgpu</code> (add <code>--enable-features=Vulkan</code> if no adapter appears), or
          enable <code>chrome://flags/#enable-unsafe-webgpu</code>.
        </li>
        <li>
          In Firefox, WebGPU is on by default from version 141 on Windows; elsewhere set{' '}
          <code>dom.webgpu.enabled</code> to <code>true</code> in <code>about:config</code>.
        </li>
        {reason === 'no-adapter' && (
          <li>
            Check that hardware acceleration is on and that the GPU is not blocklisted (<code>chrome://gpu</code>{' '}
            lists WebGPU&apos;s status); <code>--ignore-gpu-blocklist</code> overrides the blocklist.
          </li>
        )}
      </ul>
      <p>Saved runs and run files can still be opened here: their charts and exports work without a GPU.</p>
      <p>
        <button type="button" onClick={() => void actions.playDemo()} data-testid="help-demo">
          Play the recorded demo
        </button>{' '}
        a run recorded by this lab’s engine, played back through the same charts and the classroom walkthrough.
      </p>
    </section>
  );
}
