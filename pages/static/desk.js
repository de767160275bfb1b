// The staff desk: the caller ringing or talking with the signed-in person, pushed as
// server-sent events (/desk/events) and drawn here, with their address and open tickets.
// Text is set with textContent only, so nothing a caller or a resident's record holds runs here.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  var words = JSON.parse(root.dataset.words);
  var form = document.getElementById("desk-ticket-form");
  var formBox = document.getElementById("desk-ticket");

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (cls) { node.className = cls; }
    return node;
  }
  function clock(iso) { return iso ? iso.slice(11, 19) : ""; }
  function fact(list, label, value, id, cls) {
    list.appendChild(el("dt", label));
    var dd = el("dd", value, cls);
    if (id) { dd.id = id; }
    list.appendChild(dd);
  }

  function tickets(rows) {
    var table = el("table", null, "tickets");
    var head = el("tr");
    ["number", "category", "status", "due_at", "description"].forEach(function (key) {
      head.appendChild(el("th", words[key]));
    });
    table.appendChild(el("thead")).appendChild(head);
    var body = table.appendChild(el("tbody"));
    rows.forEach(function (tk) {
      var row = el("tr");
      var link = el("a", tk.number);
      link.href = "/tickets/" + tk.id;
      row.appendChild(el("td")).appendChild(link);
      row.appendChild(el("td", words["category_" + tk.category] || tk.category));
      row.appendChild(el("td", words["status_" + tk.status] || tk.status));
      row.appendChild(el("td", tk.due_at ? tk.due_at.slice(5, 16).replace("T", " ") : ""));
      row.appendChild(el("td", tk.description, "desc"));
      body.appendChild(row);
    });
    return table;
  }

  function card(call, first) {
    var box = el("section", null, "card caller");
    box.dataset.sid = call.sid;
    box.dataset.state = call.state;
    var title = box.appendChild(el("h2"));
    title.appendChild(el("span", call.from, "from"));
    title.appendChild(document.createTextNode(" "));
    title.appendChild(el("span", words["call_" + call.state] || call.state, "call-state state-" + call.state));
    if (call.resident) {
      var facts = box.appendChild(el("dl", null, "facts"));
      fact(facts, words.resident_name, call.resident.name);
      fact(facts, words.caller_address, call.resident.address, first ? "caller-address" : null, "caller-address");
      fact(facts, words.arrears, call.resident.arrears, first ? "caller-arrears" : null,
           "caller-arrears" + (call.resident.arrears !== "0.00" ? " miss" : ""));
      fact(facts, words.menu_choice, call.menu_choice ? words["menu_" + call.menu_choice] || call.menu_choice : "");
      fact(facts, words.started_at, clock(call.started_at));
    } else {
      box.appendChild(el("p", words.unknown_caller));
    }
    var timeline = el("a", words.timeline);
    timeline.href = "/calls/" + encodeURIComponent(call.sid);
    box.appendChild(el("p")).appendChild(timeline);
    box.appendChild(el("h3", words.open_tickets_of_caller));
    if (call.open_tickets.length) {
      box.appendChild(tickets(call.open_tickets));
    } else {
      box.appendChild(el("p", words.none, "note open-tickets-none"));
    }
    return box;
  }

  function draw(board) {
    var calls = board.calls || [];
    var list = document.getElementById("desk-calls");
    list.textContent = "";
    calls.forEach(function (call, n) { list.appendChild(card(call, n === 0)); });
    document.getElementById("desk-no-call").hidden = calls.length > 0;
    // The ticket form is for the call in hand; what was typed stays while the call does.
    var taken = calls.filter(function (c) { return c.state === "talking"; })[0];
    if (!taken && !root.dataset.events && calls.length) { taken = calls[0]; }
    formBox.hidden = !taken;
    var field = form.querySelector("input[name=call]");
    if (taken && field.value !== taken.sid) {
      field.value = taken.sid;
      var choice = form.querySelector("select[name=category] option[value='" + taken.menu_choice + "']");
      if (choice) { choice.selected = true; }
    }
  }

  draw(JSON.parse(root.dataset.board));
  if (!root.dataset.events) { return; }
  var link = document.getElementById("desk-link");
  var source = new EventSource(root.dataset.events);
  source.addEventListener("desk", function (event) {
    link.className = "ok"; link.textContent = words.wall_live;
    draw(JSON.parse(event.data));
  });
  source.onerror = function () { link.className = "lost"; link.textContent = words.wall_reconnecting; };
})();
