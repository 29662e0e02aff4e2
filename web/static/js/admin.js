// Progressive enhancements of the admin pages only (site.js, loaded too, does printing and
// send-once forms); every page works without JavaScript.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Cancelling a booking asks first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }

  // The live calls: the table is fetched again every 2 s (the page works without: a link reloads it).
  const live = document.querySelector("[data-live]");
  if (live) {
    setInterval(async () => {
      try {
        const response = await fetch(live.dataset.live, { credentials: "same-origin" });
        if (response.ok) live.innerHTML = await response.text();
      } catch (error) { /* next time */ }
    }, 2000);
  }

  // Message texts: the preview (filled with the sample values, SMS length) follows the typing. The
  // server renders it, exactly as the preview button does.
  const editor = document.querySelector("form[data-preview]");
  const preview = document.querySelector("section.preview");
  if (editor && preview) {
    let timer = null;
    const refresh = async () => {
      const data = new FormData(editor);
      data.set("action", "preview");
      try {
        // (not editor.action: the buttons named "action" shadow that property)
        const response = await fetch(editor.getAttribute("action") || window.location.href,
          { method: "POST", body: data, credentials: "same-origin" });
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.querySelector("section.preview");
        if (fresh) preview.innerHTML = fresh.innerHTML;
      } catch (error) { /* the preview button still works */ }
    };
    editor.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    });
  }

  // FAQ answer candidates follow the operator's typing (the button still works without script). A
  // request is sent 150 ms after the last key; an answer that comes back after a newer one is dropped.
  const ask = document.querySelector("form[data-candidates]");
  const candidates = document.getElementById("candidates");
  if (ask && candidates) {
    let timer = null;
    let asked = 0;
    ask.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const mine = ++asked;
        const query = new URLSearchParams(new FormData(ask)).toString();
        try {
          const response = await fetch(`${ask.dataset.candidates}&${query}`, { credentials: "same-origin" });
          if (response.ok && mine === asked) candidates.innerHTML = await response.text();
        } catch (error) { /* the button still works */ }
      }, 150);
    });
  }
});
