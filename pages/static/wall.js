// The wallboard: the board arrives as server-sent events (/wall/events) and is drawn here.
// Text is set with textContent only, so nothing a caller or a supervisor typed runs here.
(function () {
  "use strict";
  var root = document.getElementById("wall");
  var words = JSON.parse(root.dataset.words);
  var board = JSON.parse(root.dataset.board);
  var skew = 0;  // server time minus this browser's, so durations follow the server

  function percent(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function seconds(total) {
    if (total === null || total === undefined) { return "—"; }
    total = Math.max(0, Math.round(total));
    var m = Math.floor(total / 60), s = total % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function since(iso) { return iso ? (Date.now() + skew - Date.parse(iso)) / 1000 : null; }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (cls) { node.className = cls; }
    return node;
  }

  function draw() {
    var today = board.today || {};
    var shown = {
      three_ring_rate: percent(today.three_ring_rate),
      answered_within_20s_rate: percent(today.answered_within_20s_rate),
      abandoned_calls: String(today.abandoned_calls || 0),
      waiting_now: String(today.waiting_now || 0),
      longest_wait_seconds: seconds(today.longest_wait_seconds || 0),
      open_tickets: String(today.open_tickets || 0),
      overdue_tickets: String(today.overdue_tickets || 0)
    };
    Object.keys(shown).forEach(function (name) {
      var tile = root.querySelector('[data-tile="' + name + '"]');
      tile.querySelector("b").textContent = shown[name];
      tile.classList.toggle("miss", (board.alarms || []).indexOf(name) >= 0);
    });
    var alarms = document.getElementById("wall-alarms");
    alarms.textContent = "";
    (board.alarms || []).forEach(function (name) { alarms.appendChild(el("span", words["alarm_" + name] || name)); });
    if (board.spike && board.spike.alarm) {
      alarms.appendChild(el("span", words.spike_alarm + " " + words.wall_spike.replace("{recent}", board.spike.recent).replace("{usual}", board.spike.usual)));
    }
    (board.notices || []).forEach(function (n) { alarms.appendChild(el("span", words.notices + "：" + n.where + n.text)); });

    var body = root.querySelector("#wall-calls tbody");
    body.textContent = "";
    (board.calls || []).forEach(function (call) {
      var row = el("tr");
      row.dataset.sid = call.sid;
      row.dataset.state = call.state;
      row.appendChild(el("td", call.from));
      row.appendChild(el("td", words["call_" + call.state] || call.state, "state-" + call.state));
      row.appendChild(el("td", seconds(since(call.since)), "since"));
      row.lastChild.dataset.since = call.since || "";
      row.appendChild(el("td", call.staff || (call.menu_choice ? words["menu_" + call.menu_choice] || "" : "")));
      body.appendChild(row);
    });
    document.getElementById("wall-no-calls").hidden = (board.calls || []).length > 0;

    var staff = document.getElementById("wall-staff");
    staff.textContent = "";
    (board.staff || []).forEach(function (p) {
      var item = el("li", null, p.state);
      item.dataset.staff = p.staff;
      item.dataset.state = p.state;
      item.appendChild(el("b", p.staff));
      item.appendChild(el("span", (words["state_" + p.state] || p.state) + " " + seconds(since(p.since))));
      staff.appendChild(item);
    });
  }

  function tick() {
    document.getElementById("wall-clock").textContent = new Date(Date.now() + skew).toLocaleTimeString("zh-CN", {hour12: false});
    root.querySelectorAll("td.since").forEach(function (cell) { cell.textContent = seconds(since(cell.dataset.since)); });
  }

  function take(data) {
    board = data;
    if (board.at) { skew = Date.parse(board.at) - Date.now(); }
    draw();
  }

  take(board);
  setInterval(tick, 1000);
  var link = document.getElementById("wall-link");
  var source = new EventSource("/wall/events");
  source.addEventListener("board", function (event) {
    link.className = "ok"; link.textContent = words.wall_live;
    take(JSON.parse(event.data));
  });
  source.onerror = function () { link.className = "lost"; link.textContent = words.wall_reconnecting; };
})();
