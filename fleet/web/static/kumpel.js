/* The only script: a Print button on the label sheet. Without JavaScript it stays hidden (use the
   browser's own print); served from the fleet itself, so the CSP allows nothing but 'self'. */
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
