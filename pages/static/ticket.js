// The ticket page's countdown to the due time, ticking once a minute. The server drew the
// first value from its own clock; this keeps the same clock (its time at load plus the time
// since), so a browser whose clock is off still counts the server's minutes.
(function () {
  "use strict";
  var node = document.getElementById("ticket-countdown");
  if (!node) { return; }
  var due = Date.parse(node.dataset.due);
  var skew = Date.parse(node.dataset.now) - Date.now();

  function fill(template, values) {
    return template.replace(/\{(\w)\}/g, function (_, k) { return String(values[k]); });
  }

  function draw() {
    var left = due - (Date.now() + skew);
    var minutes = Math.floor(Math.abs(left) / 60000);
    var v = { d: Math.floor(minutes / 1440), h: Math.floor(minutes / 60) % 24, m: minutes % 60 };
    var text;
    if (left >= 0) {
      text = fill(v.d ? node.dataset.dueInDays : node.dataset.dueIn, v);
    } else {
      text = fill(v.d ? node.dataset.lateDays : (v.h ? node.dataset.lateHours : node.dataset.lateMinutes), v);
      node.className = "miss";
    }
    node.textContent = text;
  }

  setInterval(draw, 30000);
}());
