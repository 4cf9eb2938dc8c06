// Makes the letter's frame as tall as the letter, so that the page scrolls as one and no part of
// the letter hides inside the frame. The frame runs no script of its own (sandbox without
// allow-scripts); it keeps the page's origin only so that this script can read its height.
"use strict";

function fitLetter(frame) {
  const letter = frame.contentDocument;
  if (!letter || !letter.documentElement) {
    return;
  }
  // Shrink first: a frame taller than its letter would otherwise report its own height.
  frame.style.height = "0px";
  frame.style.height = `${letter.documentElement.scrollHeight + 2}px`;
}

for (const frame of document.querySelectorAll("iframe.letter")) {
  frame.addEventListener("load", () => fitLetter(frame));
  const loaded = frame.contentDocument;
  if (loaded && loaded.URL !== "about:blank" && loaded.readyState === "complete") {
    fitLetter(frame);
  }
  window.addEventListener("resize", () => fitLetter(frame));
}
