// Dealer portal: a cart kept in localStorage, priced live through the promotions API and
// submitted once per cart (one submit_key per cart, expected_net_total from the preview).
(function () {
  "use strict";
  var KEY = "dealerflow.cart";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "cart-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }
  function load() {
    try {
      var cart = JSON.parse(window.localStorage.getItem(KEY));
      if (cart && cart.items && cart.key) { return cart; }
    } catch (e) { /* a broken cart starts over */ }
    return { key: newKey(), items: [] };
  }
  function save(cart) { window.localStorage.setItem(KEY, JSON.stringify(cart)); }
  function money(v) { return Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); });
  }

  // -- catalogue: "add to cart" on each row ------------------------------------------------
  var counter = document.getElementById("cart-count");
  if (counter) { counter.textContent = String(load().items.length); }
  document.querySelectorAll("[data-add-to-cart]").forEach(function (button) {
    button.addEventListener("click", function () {
      var row = button.closest("[data-product-id]");
      var input = row.querySelector("[data-cart-qty]");
      var qty = parseInt(input.value, 10);
      if (!(qty > 0)) { input.focus(); return; }
      var cart = load();
      var id = parseInt(row.dataset.productId, 10);
      var item = cart.items.find(function (i) { return i.product_id === id; });
      var name = row.dataset.productName || "";
      if (item) { item.quantity += qty; } else { cart.items.push({ product_id: id, quantity: qty, name: name }); }
      save(cart);
      var count = document.getElementById("cart-count");
      if (count) { count.textContent = String(cart.items.length); }
      button.classList.add("added");
      button.setAttribute("aria-live", "polite");
    });
  });

  // -- cart page -------------------------------------------------------------------------
  var root = document.getElementById("cart-root");
  if (!root) { return; }
  var t = root.dataset;
  var submit = document.getElementById("cart-submit");
  var message = document.getElementById("cart-message");
  var expected = null;
  var busy = false;
  var timer = null;

  function show(text, kind) {
    message.textContent = text || "";
    message.className = "flash " + (kind || "");
    message.hidden = !text;
  }
  function lines(cart) {
    return cart.items.map(function (i) { return { product_id: i.product_id, quantity: i.quantity }; });
  }
  function list(id, rows, text) {
    var ul = document.getElementById(id);
    ul.innerHTML = "";
    rows.forEach(function (r) {
      var li = document.createElement("li");
      li.textContent = text(r);
      ul.appendChild(li);
    });
  }
  function render(cart, priced) {
    var tbody = document.querySelector("#cart-lines tbody");
    tbody.innerHTML = "";
    document.getElementById("cart-empty").hidden = cart.items.length > 0;
    document.getElementById("cart-card").hidden = cart.items.length === 0;
    var byId = {};
    (priced ? priced.lines : []).forEach(function (l) { byId[l.product_id] = l; });
    var named = false;
    cart.items.forEach(function (item) {
      var l = byId[item.product_id];
      if (l && l.name && item.name !== l.name) { item.name = l.name; named = true; }
    });
    if (named) { save(cart); }
    cart.items.forEach(function (item) {
      var l = byId[item.product_id] || {};
      var tr = document.createElement("tr");
      tr.dataset.testid = "cart-line";
      tr.setAttribute("data-testid", "cart-line");
      var name = document.createElement("td");
      name.textContent = (l.material_number || "") + " " + (l.name || item.name || ("#" + item.product_id));
      var qty = document.createElement("td");
      qty.className = "num";
      var input = document.createElement("input");
      input.type = "number"; input.min = "1"; input.className = "df-input"; input.value = item.quantity;
      input.setAttribute("aria-label", name.textContent);
      input.addEventListener("change", function () {
        var n = parseInt(input.value, 10);
        item.quantity = n > 0 ? n : 1;
        save(cart); refresh();
      });
      qty.appendChild(input);
      var price = document.createElement("td");
      price.className = "num"; price.textContent = l.unit_price ? money(l.unit_price) : "–";
      if (l.list_price && l.unit_price && Number(l.list_price) !== Number(l.unit_price)) {
        // K004/K007: the dealer's net price, with the list price struck through under it.
        var was = document.createElement("small");
        was.className = "muted"; was.setAttribute("data-testid", "cart-list-price");
        var strike = document.createElement("s");
        strike.textContent = money(l.list_price);
        was.appendChild(document.createElement("br")); was.appendChild(strike);
        price.appendChild(was);
      }
      var net = document.createElement("td");
      net.className = "num"; net.textContent = l.net_amount ? money(l.net_amount) : "–";
      var rm = document.createElement("td");
      var btn = document.createElement("button");
      btn.type = "button"; btn.className = "link"; btn.textContent = t.tRemove;
      btn.addEventListener("click", function () {
        cart.items = cart.items.filter(function (i) { return i !== item; });
        save(cart); refresh();
      });
      rm.appendChild(btn);
      [name, qty, price, net, rm].forEach(function (td) { tr.appendChild(td); });
      tbody.appendChild(tr);
    });
    list("cart-gifts", priced ? priced.gifts : [], function (g) {
      return t.tGift + ": " + g.name + " × " + g.quantity;
    });
    list("cart-promotions", priced ? priced.promotions : [], function (p) {
      return p.name + (Number(p.discount) ? " −" + money(p.discount) : "");
    });
    list("cart-warnings", priced ? priced.warnings : [], function (w) { return w.message; });
    document.getElementById("cart-list-total").textContent = priced ? money(priced.list_total) : "–";
    document.getElementById("cart-discount").textContent = priced ? money(priced.discount_total) : "–";
    document.getElementById("cart-net-total").textContent = priced ? money(priced.net_total) : "–";
    submit.disabled = busy || !priced || cart.items.length === 0;
  }
  // A 422 lists errors per field, lines by index: {"lines": {"0": {"quantity": ["…"]}}}.
  // Turn it into sentences the dealer can act on: "Line 1 (Cola 330 ml): Quantity: …".
  function fieldName(key) {
    var names = { quantity: t.tQuantity, product_id: t.tProduct, submit_key: t.tCart,
                  expected_net_total: t.tTotal, lines: t.tLines };
    return names[key] || key;
  }
  function lineName(index) {
    var item = load().items[index];
    var label = t.tLine.replace("{n}", String(index + 1));
    return item && item.name ? label + " (" + item.name + ")" : label;
  }
  function errorList(body) {
    var errors = body && body.errors;
    if (!errors || typeof errors !== "object") { return [(body && body.detail) || t.tError]; }
    var out = [];
    function walk(node, labels) {
      if (Array.isArray(node)) {
        var text = node.map(function (m) { return typeof m === "string" ? m : JSON.stringify(m); }).join(" ");
        out.push(labels.length ? labels.join(" · ") + ": " + text : text);
      } else if (node && typeof node === "object") {
        Object.keys(node).forEach(function (key) {
          var underLines = labels.length === 1 && labels[0] === t.tLines;
          if (underLines && /^\d+$/.test(key)) { walk(node[key], [lineName(parseInt(key, 10))]); }
          else { walk(node[key], labels.concat([fieldName(key)])); }
        });
      } else if (node !== null && node !== undefined) {
        out.push(labels.join(" · ") + ": " + String(node));
      }
    }
    walk(errors, []);
    return out.length ? out : [t.tError];
  }
  function showErrors(body, prefix) {
    var items = errorList(body);
    show(prefix || t.tInvalid, "error");
    list("cart-errors", items, function (text) { return text; });
  }
  function errorText(body) { return errorList(body).join("; "); }
  function refresh() {
    var cart = load();
    expected = null;
    if (!cart.items.length) { render(cart, null); return; }
    render(cart, null);
    post(t.previewUrl, { lines: lines(cart) }).then(function (r) {
      if (r.status === 200) {
        expected = r.body.net_total; render(cart, r.body); show(""); list("cart-errors", [], String);
      } else { showErrors(r.body, t.tError); }
    }).catch(function () { show(t.tError, "error"); });
  }
  submit.addEventListener("click", function () {
    if (busy || expected === null) { return; }
    busy = true; submit.disabled = true; show(t.tSubmitting);
    var cart = load();
    post(t.ordersUrl, { lines: lines(cart), submit_key: cart.key, expected_net_total: expected })
      .then(function (r) {
        busy = false;
        if (r.status === 200 || r.status === 201) {
          window.localStorage.removeItem(KEY);
          window.location.href = t.orderPage + "/" + r.body.id;
        } else if (r.status === 409 && r.body.code === "pricing_changed") {
          // Re-price so the dealer sees the new lines, then confirm the new total explicitly.
          var total = r.body.pricing.net_total;
          post(t.previewUrl, { lines: lines(cart) }).then(function (p) {
            if (p.status === 200) { render(cart, p.body); }
            expected = total;
            submit.disabled = false;
            show(t.tChanged.replace("{total}", money(total)), "error");
          });
        } else if (r.status === 422) {
          submit.disabled = false;
          showErrors(r.body);
        } else {
          submit.disabled = false;
          show(errorText(r.body), "error");
        }
      }).catch(function () { busy = false; submit.disabled = false; show(t.tError, "error"); });
  });
  refresh();
}());
