/*
 * <outreach-intervention>: renders an Outreach intervention answer (POST /api/v1/interventions)
 * as a warning interstitial. No dependencies; styles live in a shadow root so the host page
 * cannot break them and they cannot leak into it.
 *
 * Use: fetch the answer from YOUR server (which holds the API key), then either
 *   element.data = answer;                       // from script, or
 *   <outreach-intervention data-answer='{"show": true, ...}'></outreach-intervention>
 * When answer.show is false the element renders nothing. It fires "outreach-dismiss" when the
 * person closes the warning and "outreach-help-click" (detail: {id}) when a help link is used.
 * The message HTML is cleaned by Outreach to a small allow-list of tags before it is sent.
 *
 * Chat resources (kind "chat"): the element asks `<link origin>/help/resource/<id>/status`
 * (public, no cookies) and adds a "Talk to someone now" button, through the same signed link,
 * only while the chat is open with a free counsellor ("chat_free_now"). Any other answer
 * (closed, full, not hosted here, unreachable) shows the resource without the button.
 */
(function () {
  "use strict";

  const STYLE = `
    :host { display: block; font-family: system-ui, sans-serif; max-width: 100%; }
    /* A long address (a signed help link in text) wraps inside the card instead of widening
       the host page. */
    .card { box-sizing: border-box; overflow-wrap: anywhere; border: 2px solid #b3261e;
            border-radius: 10px; background: #fff; color: #1b1b1b; padding: 1.25rem 1.5rem;
            box-shadow: 0 4px 18px rgba(0,0,0,.15); max-width: 44rem; }
    h2 { margin: 0 0 .75rem; color: #b3261e; font-size: 1.35rem; }
    .body p { margin: .5rem 0; line-height: 1.5; }
    h3 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
    ul.help { list-style: none; padding: 0; margin: 0; display: grid; gap: .6rem; }
    ul.help li { border: 1px solid #d0d4dc; border-radius: 8px; padding: .6rem .8rem; }
    .name { font-weight: 600; }
    .desc { font-size: .9rem; color: #444; }
    .open { font-size: .8rem; color: #1e6b2e; }
    details { margin-top: 1rem; font-size: .9rem; }
    button.close { margin-top: 1rem; padding: .4rem .9rem; }
    a { color: #0b57d0; }
    a.talk-now { display: inline-block; margin-top: .4rem; padding: .35rem .8rem;
                 background: #1e6b2e; color: #fff; border-radius: 6px; text-decoration: none; }
  `;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function safeHref(url) {
    return /^(https?:\/\/|\/)/i.test(url || "") && !/^\/\//.test(url) ? url : null;
  }

  class OutreachIntervention extends HTMLElement {
    constructor() {
      super();
      this._root = this.attachShadow({ mode: "open" });
      this._data = null;
    }

    static get observedAttributes() { return ["data-answer"]; }

    attributeChangedCallback(name, _old, value) {
      if (name !== "data-answer") return;
      try { this.data = value ? JSON.parse(value) : null; } catch (e) { this.data = null; }
    }

    get data() { return this._data; }

    set data(answer) {
      this._data = answer || null;
      this.render();
    }

    connectedCallback() { this.render(); }

    render() {
      const root = this._root;
      root.replaceChildren(el("style", {}, STYLE));
      const answer = this._data;
      this.toggleAttribute("showing", Boolean(answer && answer.show));
      if (answer && answer.intervention_id) {
        this.setAttribute("data-intervention-id", answer.intervention_id);
      } else {
        this.removeAttribute("data-intervention-id");
      }
      if (!answer || !answer.show || !answer.message) return;

      const card = el("section", { class: "card", role: "alertdialog",
                                   "aria-labelledby": "title", part: "card" });
      card.append(el("h2", { id: "title" }, answer.message.title || ""));
      const body = el("div", { class: "body", lang: answer.message.language || null });
      body.innerHTML = answer.message.html || "";  // cleaned server-side (allow-list)
      body.querySelectorAll("a").forEach((a) => {
        const href = safeHref(a.getAttribute("href"));
        if (href) { a.setAttribute("href", href); } else { a.removeAttribute("href"); }
        a.setAttribute("rel", "noopener noreferrer");
        a.setAttribute("target", "_blank");
      });
      card.append(body);
      card.append(this.helpList(answer.help_resources || []));
      const notice = this.legalNotice(answer.legal_notice);
      if (notice) card.append(notice);
      const close = el("button", { class: "close", type: "button" }, "Close");
      close.addEventListener("click", () => {
        this.dispatchEvent(new CustomEvent("outreach-dismiss", { bubbles: true }));
        this.data = null;
      });
      card.append(close);
      root.append(card);
    }

    helpList(resources) {
      const wrap = el("div", {});
      if (!resources.length) return wrap;
      wrap.append(el("h3", {}, "Confidential help"));
      const list = el("ul", { class: "help" });
      resources.forEach((resource) => {
        const item = el("li", { "data-resource-id": String(resource.id) });
        const href = safeHref(resource.url);
        const name = href
          ? el("a", { class: "name help-link", href: href, target: "_blank",
                      rel: "noopener noreferrer" }, resource.name)
          : el("span", { class: "name" }, resource.name);
        if (href) {
          name.addEventListener("click", () => this.dispatchEvent(new CustomEvent(
            "outreach-help-click", { bubbles: true, detail: { id: resource.id } })));
        }
        item.append(name);
        if (resource.description) item.append(el("div", { class: "desc" }, resource.description));
        if (href && resource.kind === "chat") this.offerChat(item, href, resource);
        if (resource.phone) {
          const phone = el("div", {});
          phone.append(el("a", { href: "tel:" + resource.phone }, resource.phone));
          phone.append(el("span", { class: "open" }, " open now"));
          item.append(phone);
        }
        list.append(item);
      });
      wrap.append(list);
      return wrap;
    }

    offerChat(item, href, resource) {
      let statusUrl;
      try {
        statusUrl = new URL("/help/resource/" + encodeURIComponent(resource.id) + "/status",
                            new URL(href, window.location.href)).href;
      } catch (e) { return; }
      fetch(statusUrl, { credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" })
        .then((response) => (response.ok ? response.json() : null))
        .then((status) => {
          if (!status || status.chat_free_now !== true) return;
          const talk = el("a", { class: "talk-now help-link", href: href, target: "_blank",
                                 rel: "noopener noreferrer" }, "Talk to someone now");
          talk.addEventListener("click", () => this.dispatchEvent(new CustomEvent(
            "outreach-help-click", { bubbles: true, detail: { id: resource.id } })));
          item.append(talk);
        })
        .catch(() => {});
    }

    legalNotice(notice) {
      if (!notice || !notice.statutes || !notice.statutes.length) return null;
      const details = el("details", {});
      details.append(el("summary", {}, "What the law says (" + notice.jurisdiction + ")"));
      const list = el("ul", {});
      notice.statutes.forEach((statute) => {
        list.append(el("li", {}, [statute.name, statute.section].filter(Boolean).join(" ") +
          ": " + statute.summary + (statute.max_penalty ? " Maximum: " + statute.max_penalty : "")));
      });
      details.append(list);
      return details;
    }
  }

  if (!customElements.get("outreach-intervention")) {
    customElements.define("outreach-intervention", OutreachIntervention);
  }
})();
