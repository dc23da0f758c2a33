// <ms-line-chart>: a uPlot line chart. Created in firstUpdated, fed with setData when
// only the points change (live training), rebuilt when the series change, resized by
// a ResizeObserver and destroyed when the element leaves the page.

import { LitElement, css, html, unsafeCSS, type PropertyValues } from "lit";
import { customElement, property, query } from "lit/decorators.js";
import uPlot from "uplot";
import uplotCss from "uplot/dist/uPlot.min.css?inline";
import type { Columns, SeriesStyle } from "../chart-data.ts";

@customElement("ms-line-chart")
export class LineChart extends LitElement {
  static override styles = [
    unsafeCSS(uplotCss),
    css`
      :host {
        display: block;
        min-width: 0;
      }
      .title {
        font-weight: 600;
        margin-bottom: 0.25rem;
      }
      .empty {
        color: #5f6368;
        font-size: 0.9rem;
      }
    `,
  ];

  @property() heading = "";
  @property({ attribute: "x-label" }) xLabel = "epoch";
  @property({ attribute: "y-label" }) yLabel = "";
  @property({ type: Number }) height = 240;
  /** [x, series 1, ...]; null is a gap */
  @property({ attribute: false }) data: Columns = [[]];
  @property({ attribute: false }) series: SeriesStyle[] = [];
  /** a fixed y range, e.g. [0, 1] */
  @property({ attribute: false }) yRange: [number, number] | null = null;
  /** a logarithmic y axis (for losses, which fall over orders of magnitude) */
  @property({ type: Boolean, attribute: "y-log" }) yLog = false;
  /** a fixed x range */
  @property({ attribute: false }) xRange: [number, number] | null = null;

  @query(".plot") private plotEl!: HTMLDivElement;
  private plot: uPlot | null = null;
  private seriesKey = "";
  private resizeObserver: ResizeObserver | null = null;

  override render() {
    return html`${this.heading ? html`<div class="title">${this.heading}</div>` : null}
      <div class="plot" role="img" aria-label=${this.heading || this.yLabel}></div>`;
  }

  protected override firstUpdated(): void {
    this.create();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(this);
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (!this.plot) return;
    const key = this.keyOf();
    if (key !== this.seriesKey) {
      this.plot.destroy();
      this.plot = null;
      this.create();
    } else if (changed.has("data")) {
      this.plot.setData(this.data as uPlot.AlignedData);
    }
  }

  override connectedCallback(): void {
    super.connectedCallback();
    // reattached after a disconnect: build again
    if (this.hasUpdated && !this.plot) {
      this.create();
      this.resizeObserver?.observe(this);
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.resizeObserver?.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  /** The number of points drawn per series (for tests and status lines). */
  get pointCounts(): number[] {
    return this.data.slice(1).map((col) => (col as (number | null)[]).filter((v) => v !== null).length);
  }

  private keyOf(): string {
    return JSON.stringify([this.series, this.yRange, this.xRange, this.yLog, this.xLabel, this.yLabel, this.height]);
  }

  private width(): number {
    return Math.max(200, Math.floor(this.getBoundingClientRect().width) || 480);
  }

  private create(): void {
    if (!this.plotEl) return;
    this.seriesKey = this.keyOf();
    const yRange = this.yRange;
    const xRange = this.xRange;
    const opts: uPlot.Options = {
      width: this.width(),
      height: this.height,
      scales: {
        x: { time: false, ...(xRange ? { range: xRange } : {}) },
        y: yRange ? { range: yRange } : this.yLog ? { distr: 3 } : {},
      },
      axes: [
        { label: this.xLabel, size: 40 },
        { label: this.yLabel, size: 60 },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      series: [
        { label: this.xLabel },
        ...this.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.5,
          spanGaps: true,
          ...(s.dash ? { dash: s.dash } : {}),
          points: { show: s.points ?? false, size: 5, fill: s.color },
        })),
      ],
    };
    this.plot = new uPlot(opts, this.data as uPlot.AlignedData, this.plotEl);
  }

  private resize(): void {
    if (!this.plot) return;
    const w = this.width();
    if (Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: this.height });
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "ms-line-chart": LineChart;
  }
}
