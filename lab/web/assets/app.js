// headroom lab: the home page's script. It signs a demo user in (POST /api/login), keeps the
// token in sessionStorage, asks GET /api/me with it (through an edge, the edge checks it first),
// signs out (DELETE /api/login), and toggles the theme. No framework, no build step.
(function () {
  "use strict";
  var root = document.documentElement;
  var KEY = "headroom.token";

  function $(id) { return document.getElementById(id); }

  function setTheme(theme) {
    root.setAttribute("data-theme", theme);
    try { localStorage.setItem("headroom.theme", theme); } catch (e) { /* private mode */ }
  }

  function currentTheme() {
    var t = root.getAttribute("data-theme");
    if (t) return t;
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    var token = sessionStorage.getItem(KEY);
    if (token) headers["Authorization"] = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (resp) {
        return resp.json().then(function (data) { return { status: resp.status, data: data }; });
      });
  }

  function showUser(res) {
    var box = $("me");
    if (!box) return;
    if (res.status !== 200) {
      box.hidden = true;
      $("signin").hidden = false;
      return;
    }
    box.hidden = false;
    $("signin").hidden = true;
    $("me-name").textContent = res.data.user.name;
    $("me-source").textContent = res.data.auth_source;
  }

  function refresh() {
    if (!sessionStorage.getItem(KEY)) return Promise.resolve(showUser({ status: 401 }));
    return api("GET", "/api/me").then(showUser);
  }

  function signIn() {
    var id = 1 + Math.floor(Math.random() * 20);
    return api("POST", "/api/login", { user_id: id }).then(function (res) {
      if (res.status === 200) sessionStorage.setItem(KEY, res.data.token);
      return refresh();
    });
  }

  function signOut() {
    return api("DELETE", "/api/login").then(function () {
      sessionStorage.removeItem(KEY);
      return refresh();
    });
  }

  // Prices are rendered by the origin (or rewritten by an edge) in the page's language; the
  // data attributes let the script reformat them if the currency is switched client side.
  function formatPrices() {
    var lang = root.lang || "en";
    var nodes = document.querySelectorAll("[data-price-cents]");
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      var cur = n.getAttribute("data-currency");
      var minor = cur === "JPY" ? 1 : 100;
      try {
        n.textContent = new Intl.NumberFormat(lang, { style: "currency", currency: cur })
          .format(Number(n.getAttribute("data-price-cents")) / minor);
      } catch (e) { /* keep the server's text */ }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    try {
      var saved = localStorage.getItem("headroom.theme");
      if (saved && !root.getAttribute("data-theme")) setTheme(saved);
    } catch (e) { /* private mode */ }
    var toggle = $("theme");
    if (toggle) toggle.addEventListener("click", function () { setTheme(currentTheme() === "dark" ? "light" : "dark"); });
    var si = $("signin");
    if (si) si.addEventListener("click", signIn);
    var so = $("signout");
    if (so) so.addEventListener("click", signOut);
    formatPrices();
    refresh();
  });
})();
