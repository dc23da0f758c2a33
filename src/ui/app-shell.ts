// <ms-app>: the navigation bar naming the four pages, and the page the location hash
// selects. Only the current page is in the DOM, so charts of other pages are destroyed.

import { LitElement, css, html } from "lit";
import { customElement, state } from "lit/decorators.js";
import { ROUTES, routeFromHash, type Route } from "./routes.ts";
import { getAppState } from "./state.ts";
import "./pages/home-page.ts";
import "./pages/predict-page.ts";
import "./pages/training-page.ts";
import "./pages/epoch-metrics-page.ts";

@customElement("ms-app")
export class MsApp extends LitElement {
  static override styles = css`
    :host {
      display: block;
      font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
      min-height: 100vh;
      background: #f6f7f9;
    }
    nav {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.25rem 1rem;
      padding: 0.6rem 1.25rem;
      background: #202124;
      color: #fff;
    }
    .brand {
      font-weight: 700;
      margin-right: 1rem;
    }
    nav a {
      color: #e8eaed;
      text-decoration: none;
      padding: 0.25rem 0.5rem;
      border-radius: 4px;
    }
    nav a[aria-current="page"] {
      background: #3c4043;
      color: #fff;
    }
    nav a:focus-visible {
      outline: 2px solid #8ab4f8;
    }
    main {
      max-width: 72rem;
      margin: 0 auto;
      padding: 1.25rem;
    }
  `;

  @state() private route: Route = routeFromHash(location.hash);
  private readonly onHash = () => {
    this.route = routeFromHash(location.hash);
    document.title = `${this.route.title} · MovieSentiments`;
    window.scrollTo(0, 0);
  };

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener("hashchange", this.onHash);
    document.title = `${this.route.title} · MovieSentiments`;
    getAppState().start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener("hashchange", this.onHash);
  }

  override render() {
    return html`
      <nav aria-label="Pages">
        <span class="brand">MovieSentiments</span>
        ${ROUTES.map(
          (r) => html`<a href=${r.hash} data-page=${r.id} aria-current=${r.id === this.route.id ? "page" : "false"}>${r.title}</a>`,
        )}
      </nav>
      <main>${this.page()}</main>
    `;
  }

  private page() {
    switch (this.route.id) {
      case "home":
        return html`<ms-home-page></ms-home-page>`;
      case "predict":
        return html`<ms-predict-page></ms-predict-page>`;
      case "training":
        return html`<ms-training-page></ms-training-page>`;
      case "epochs":
        return html`<ms-epoch-metrics-page></ms-epoch-metrics-page>`;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    "ms-app": MsApp;
  }
}
