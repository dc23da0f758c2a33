// Styles shared by the pages (each page adopts them into its shadow root).

import { css } from "lit";

export const pageStyles = css`
  :host {
    display: block;
    color: #1d1d1f;
    line-height: 1.5;
  }
  h1 {
    font-size: 1.6rem;
    margin: 0 0 0.5rem;
  }
  h2 {
    font-size: 1.25rem;
    margin: 2rem 0 0.5rem;
  }
  h3 {
    font-size: 1.05rem;
    margin: 1.25rem 0 0.4rem;
  }
  p {
    margin: 0.4rem 0;
    max-width: 52rem;
  }
  .muted {
    color: #5f6368;
  }
  .card {
    border: 1px solid #dadce0;
    border-radius: 8px;
    padding: 0.75rem 1rem;
    background: #fff;
  }
  .grid {
    display: grid;
    gap: 1rem;
    grid-template-columns: repeat(auto-fit, minmax(min(100%, 26rem), 1fr));
  }
  .message {
    border-radius: 6px;
    padding: 0.5rem 0.75rem;
    margin: 0.5rem 0;
  }
  .message.info {
    background: #e8f0fe;
  }
  .message.error {
    background: #fce8e6;
    color: #8c1d18;
  }
  .message.warn {
    background: #fef7e0;
  }
  table {
    border-collapse: collapse;
    font-variant-numeric: tabular-nums;
  }
  th,
  td {
    padding: 0.25rem 0.6rem;
    border-bottom: 1px solid #e8eaed;
    text-align: right;
  }
  th:first-child,
  td:first-child {
    text-align: left;
  }
  thead th {
    border-bottom: 2px solid #dadce0;
  }
  button {
    font: inherit;
    padding: 0.35rem 0.9rem;
    border-radius: 6px;
    border: 1px solid #1a73e8;
    background: #1a73e8;
    color: #fff;
    cursor: pointer;
  }
  button.secondary {
    background: #fff;
    color: #1a73e8;
  }
  button:disabled {
    opacity: 0.5;
    cursor: default;
  }
  input,
  select,
  textarea {
    font: inherit;
  }
  code,
  .math {
    font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
    font-size: 0.92em;
  }
  .math {
    display: block;
    background: #f8f9fa;
    padding: 0.5rem 0.75rem;
    border-radius: 6px;
    white-space: pre-wrap;
  }
  progress {
    width: 100%;
    height: 1rem;
  }
`;
