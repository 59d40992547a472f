import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BenchPage } from './BenchPage';
import '../styles.css';
import './bench.css';

const root = document.getElementById('root');
if (!root) throw new Error('bench.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <BenchPage />
  </StrictMode>,
);
