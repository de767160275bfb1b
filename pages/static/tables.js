// Narrow screens show each table row as a card (style.css, "Phones"): every cell is given
// its column's heading as data-label, here, once for all tables, so no template repeats it.
// Rows drawn later (the wallboard, the desk) are labelled as they arrive.
(function () {
  "use strict";
  function headings(table) {
    var row = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    var names = [];
    if (!row) { return names; }
    Array.prototype.forEach.call(row.cells, function (cell) {
      for (var i = 0; i < (cell.colSpan || 1); i++) { names.push(cell.textContent.trim()); }
    });
    return names;
  }
  function label(table) {
    var names = headings(table);
    if (!names.length) { return; }
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          if (!cell.hasAttribute("data-label") && names[column]) { cell.setAttribute("data-label", names[column]); }
          column += cell.colSpan || 1;
        });
      });
    });
  }
  function labelAll() { Array.prototype.forEach.call(document.querySelectorAll("table"), label); }
  labelAll();
  new MutationObserver(function (changes) {
    if (changes.some(function (c) { return c.addedNodes.length; })) { labelAll(); }
  }).observe(document.body, {childList: true, subtree: true});
})();
