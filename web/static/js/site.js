// Progressive enhancements only: every page works without JavaScript.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Print button on the done page.
  for (const button of document.querySelectorAll(".js-print")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }

  // A form marked data-once is sent once, however often the button is pressed.
  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent) { event.preventDefault(); return; }
      form.dataset.sent = "1";
    });
  }

  // The text size switch changes the page in place (what was typed stays, and the done page is not
  // opened a second time); without JavaScript the link reloads the page.
  for (const link of document.querySelectorAll(".textsize a")) {
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      try {
        await fetch(link.href, { credentials: "same-origin", redirect: "manual" });
      } catch (error) { window.location.href = link.href; return; }
      const large = link.href.includes("/textsize/large");
      document.documentElement.classList.toggle("large", large);
      for (const other of document.querySelectorAll(".textsize a")) {
        if (other === link) other.setAttribute("aria-current", "true");
        else other.removeAttribute("aria-current");
      }
    });
  }

  // Move focus to the error summary so screen-reader users hear it first.
  const summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  // Live seat counts on a day's slot list, announced politely when they change.
  const list = document.querySelector("[data-seats-url]");
  const status = document.getElementById("seat-status");
  if (list && status) {
    const refresh = async () => {
      try {
        const response = await fetch(list.dataset.seatsUrl, { credentials: "same-origin" });
        if (!response.ok) return;
        const seats = await response.json();
        const changes = [];
        for (const button of list.querySelectorAll("button[data-slot]")) {
          const info = seats[button.dataset.slot];
          if (!info) continue;
          const label = button.querySelector(".slot-seats");
          const text = info.bookable ? `残り${info.remaining}` : (info.remaining === 0 ? "満席" : label.textContent);
          if (label.textContent !== text) {
            changes.push(`${button.querySelector(".slot-time").textContent} ${text}`);
            label.textContent = text;
            button.disabled = !info.bookable;
            button.setAttribute("aria-disabled", String(!info.bookable));
          }
        }
        if (changes.length) status.textContent = `空き状況が変わりました：${changes.join("、")}`;
      } catch (error) { /* offline for a moment: try again next time */ }
    };
    setInterval(refresh, 20000);
  }
});
