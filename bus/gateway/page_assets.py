"""The tracker page's stylesheet and script, served from the package (no static files to ship).

The script only enhances: the page works without it (forms post, "Refresh" is a link). With it,
"Refresh" swaps the timeline in place and, for two minutes after a consent change, the timeline
refreshes itself every few seconds so the person sees the effect on the next delivery.
"""

from __future__ import annotations

from typing import Final

CSS: Final = """
:root { color-scheme: light; --ink: #1b1b1b; --muted: #4a4a4a; --line: #c8c8c8; --accent: #0b4f8a;
        --deny: #8a1010; --ok: #1d5e20; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, "Segoe UI", Roboto, Arial, sans-serif; color: var(--ink);
       background: #fff; }
header, main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .5rem; }
nav ul { list-style: none; display: flex; gap: 1rem; padding: 0; margin: .5rem 0 0; }
a { color: var(--accent); }
a:focus, button:focus { outline: 3px solid #f0a500; outline-offset: 2px; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .5rem; border-bottom: 1px solid var(--line); }
th { background: #f2f2f2; }
td time { white-space: nowrap; }
tr.denied td:first-child, tr.dead_lettered td:first-child { border-left: 4px solid var(--deny); }
tr.delivered td:first-child, tr.backfilled td:first-child { border-left: 4px solid var(--ok); }
.decision-denied, .decision-dead_lettered { color: var(--deny); font-weight: 600; }
.decision-delivered, .decision-backfilled { color: var(--ok); font-weight: 600; }
code { font-size: .85em; color: var(--muted); }
button { font: inherit; padding: .35rem .9rem; border: 2px solid var(--accent); border-radius: 4px;
         background: var(--accent); color: #fff; cursor: pointer; }
button.revoke { background: #fff; color: var(--deny); border-color: var(--deny); }
#status:empty { display: none; }
#status { padding: .5rem 1rem; border: 2px solid var(--ok); border-radius: 4px; }
"""

JS: Final = """
"use strict";
(function () {
  var section = document.getElementById("timeline");
  var status = document.getElementById("status");
  var link = document.getElementById("refresh");
  if (!section || !status) { return; }
  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("timeline-body");
        var current = document.getElementById("timeline-body");
        if (fresh && current && fresh.innerHTML !== current.innerHTML) {
          current.replaceWith(document.importNode(fresh, true));
          status.textContent = section.getAttribute("data-updated") + " " + new Date().toLocaleTimeString();
        }
      });
  }
  if (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      refresh().catch(function () {});
    });
  }
  if (section.getAttribute("data-watch") === "1") {
    var left = 60;
    var timer = window.setInterval(function () {
      left -= 1;
      if (left < 0) { window.clearInterval(timer); return; }
      if (!document.hidden) { refresh().catch(function () {}); }
    }, 2000);
  }
})();
"""
