/* The framework page: save a cell's summary through POST /api/framework.
 * Data from the server is only ever written with textContent. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("framework");
    if (!table) { return; }
    table.addEventListener("click", function (event) {
      var button = event.target;
      if (!button.classList || !button.classList.contains("save-summary")) { return; }
      var cell = button.closest("td");
      var box = cell.querySelector("textarea");
      var author = cell.querySelector(".author");
      button.disabled = true;
      window.qualkam.post("/api/framework", {
        name: table.dataset.name,
        cases: table.dataset.cases,
        themes: table.dataset.themes,
        "case": box.dataset["case"],
        theme: box.dataset.theme,
        summary: box.value
      }).then(function (answer) {
        box.value = answer.summary;
        author.textContent = answer.author;
        window.qualkam.status(answer.changed ? "saved" : "unchanged", "ok");
      }).catch(function (error) {
        window.qualkam.status(error.message, "error");
      }).then(function () { button.disabled = false; });
    });
  });
}());
