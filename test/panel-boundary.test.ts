// @vitest-environment happy-dom
// The page's error boundary (src/ui/PanelBoundary.tsx): a panel that throws while drawing is replaced by a message
// naming it, its neighbours keep working, and "Try again" draws it again.
import { describe, expect, it, vi } from 'vitest';
import { createElement, act, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { PanelBoundary } from '../src/ui/PanelBoundary';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

let broken = true;
function Fragile() {
  if (broken) throw new Error('the saved record has no series');
  return createElement('p', { id: 'fragile' }, 'drawn');
}

function Counter() {
  const [n, setN] = useState(0);
  return createElement('button', { id: 'counter', onClick: () => setN(n + 1) }, `clicked ${n}`);
}

describe('PanelBoundary', () => {
  it('keeps the page usable when one panel throws, and draws it again on request', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const container = document.createElement('div');
    document.body.append(container);
    const root = createRoot(container);
    await act(async () =>
      root.render(
        createElement(
          'div',
          null,
          createElement(PanelBoundary, { name: 'saved runs', children: createElement(Fragile) }),
          createElement(PanelBoundary, { name: 'counter', children: createElement(Counter) }),
        ),
      ),
    );
    const alert = container.querySelector('[role="alert"]');
    expect(alert?.textContent).toContain('This panel (saved runs) could not be drawn: the saved record has no series. The rest of the lab still works.');
    expect(consoleError).toHaveBeenCalled();

    const counter = container.querySelector<HTMLButtonElement>('#counter')!;
    await act(async () => counter.click());
    expect(container.querySelector('#counter')?.textContent).toBe('clicked 1');

    broken = false;
    await act(async () => alert!.querySelector('button')!.click());
    expect(container.querySelector('[role="alert"]')).toBeNull();
    expect(container.querySelector('#fragile')?.textContent).toBe('drawn');
    await act(async () => root.unmount());
    consoleError.mockRestore();
  });
});
