// The statement's Print button (no inline handlers: the site's content security policy forbids
// them). Without JavaScript the button stays hidden and the browser's own Print works the same.
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
