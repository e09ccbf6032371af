// Cohort demo shop: sends events with the tag and shows the visitor's live profile from /v1/me.
// Data from the server is only ever written with textContent, never as HTML.
(function () {
  "use strict";
  var send = function () {
    window.cohort.apply(null, arguments);
  };
  var tagScript = document.querySelector("script[data-key]");
  var writeKey = tagScript ? tagScript.getAttribute("data-key") : "";
  var cart = 0;
  var $ = function (id) { return document.getElementById(id); };

  // --- the hero slot ----------------------------------------------------------------------
  // The tag fills it once on load; the demo asks again whenever the answer may have changed (a
  // product view, a sign-in, a privacy choice). No decision means the page's own default line.
  var heroDefault = $("hero-default").textContent;
  function updateHero() {
    send("decide", ["hero"], function (decisions) {
      var hero = decisions && decisions.hero;
      var text = hero && hero.content && typeof hero.content.text === "string" ? hero.content.text : heroDefault;
      if ($("hero-slot").textContent !== text) $("hero-slot").textContent = text;
    });
  }

  function product(button) {
    var el = button.closest(".product");
    return {
      product_id: el.dataset.id,
      name: el.dataset.name,
      category: el.dataset.category,
      price: Number(el.dataset.price),
      currency: "EUR",
    };
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-action]");
    if (!button) return;
    var p = product(button);
    var action = button.dataset.action;
    if (action === "view") {
      send("track", "Product Viewed", p);
      // The ask rides on the batch that carries the view (?decide=hero), so its answer already
      // reflects the segment the view may have completed.
      updateHero();
    }
    if (action === "add") {
      send("track", "Product Added", Object.assign({ quantity: 1 }, p));
      $("cart-count").textContent = String(++cart);
    }
    if (action === "buy") {
      send("track", "Order Completed", {
        order_id: "o-" + Math.random().toString(36).slice(2, 10),
        total: p.price,
        currency: "EUR",
        products: [p],
      });
      cart = 0;
      $("cart-count").textContent = "0";
    }
    refreshSoon();
  });

  /**
   * Signs the visitor in: everything a sign-in sends is here, so a proof of identity (a
   * `userHash` from the server) is one more field in this one call.
   */
  // The demo's "server" (a demo-only Worker route) proves the sign-in with a userHash, as a real
  // site's server would render it into the page (README "Verified identity").
  function signIn(email, name) {
    var traits = { email: email };
    if (name) traits.name = name;
    return fetch("/v1/demo/user-hash", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ writeKey: writeKey, userId: email }),
    })
      .then(function (res) {
        return res.json();
      })
      .then(function (proof) {
        send("identify", email, traits, { userHash: proof.userHash });
        // Asked with the identify's own batch: the answer sees the traits just sent.
        updateHero();
        $("signin-status").textContent = "Signed in as " + (name || email) + ".";
      });
  }

  $("signin").addEventListener("submit", function (e) {
    e.preventDefault();
    var email = $("signin-email").value.trim();
    if (!email) return;
    signIn(email, $("signin-name").value.trim()).then(refreshSoon);
  });

  // --- privacy choices: the tag posts them to /v1/consent, which sets or clears the cookie ------

  var choices = {
    "consent-accept": { analytics: true, personalization: true, advertising: true },
    "consent-analytics": { analytics: true, personalization: false, advertising: false },
    "consent-refuse": { analytics: false, personalization: false, advertising: false },
  };
  Object.keys(choices).forEach(function (id) {
    $(id).addEventListener("click", function () {
      send("consent", choices[id]);
      // Asked after the choice has been answered (the tag keeps them in order): without
      // personalisation the hero goes back to its default at once.
      updateHero();
      $("consent-status").textContent = "Sent: " + JSON.stringify(choices[id]);
      refreshSoon();
    });
  });

  // --- the live profile panel -------------------------------------------------------------

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }
  function empty(el, text) {
    var node = document.createElement(el.tagName === "DL" ? "div" : "li");
    node.className = "empty";
    node.textContent = text;
    el.appendChild(node);
  }
  function show(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }
  function pairs(el, object, emptyText) {
    clear(el);
    var keys = Object.keys(object || {});
    if (!keys.length) return empty(el, emptyText);
    keys.sort().forEach(function (key) {
      var dt = document.createElement("dt");
      var dd = document.createElement("dd");
      dt.textContent = key;
      dd.textContent = show(object[key]);
      el.appendChild(dt);
      el.appendChild(dd);
    });
  }
  function chips(el, items, emptyText) {
    clear(el);
    items.forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      el.appendChild(li);
    });
    if (!items.length) empty(el, emptyText);
  }
  function label(event) {
    if (event.type === "track") return event.event || "(unnamed)";
    if (event.type === "page") return event.name || (event.page && event.page.path) || "page view";
    if (event.type === "identify") return "identified";
    return event.event || event.name || event.type;
  }
  function time(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? "" : d.toLocaleTimeString();
  }
  /** A known moment, or null: a missing, null, unreadable or zero (1970) time is not known. */
  function moment(value) {
    if (value === null || value === undefined || value === "") return null;
    var d = new Date(value);
    return isNaN(d.getTime()) || d.getTime() <= 0 ? null : d;
  }
  function seen(profile) {
    var first = moment(profile.firstSeen);
    var last = moment(profile.lastSeen);
    var parts = [];
    if (first) parts.push("First seen " + first.toLocaleString());
    if (last) parts.push((first ? "last" : "Last") + " seen " + last.toLocaleString());
    return parts.length ? parts.join(" · ") : "No event yet: only a consent choice.";
  }

  function render(body) {
    var profile = body.profile;
    var status = $("profile-status");
    if (!profile) {
      // Cohort's own verdict (isbot on the User-Agent, as for events): a headless browser is
      // counted, never profiled, whatever its consent.
      status.textContent = body.bot ? "treated as a bot" : "no profile yet";
      status.className = body.bot ? "badge bot" : "badge";
      clear($("profile-identities"));
      empty($("profile-identities"), "none yet");
      pairs($("profile-traits"), {}, "none yet");
      pairs($("profile-counters"), {}, "none yet");
      chips($("profile-segments"), [], "none yet");
      pairs(
        $("profile-consent"),
        {},
        body.bot
          ? "Cohort takes this browser for a bot (by its User-Agent): its events are counted, never profiled, and it gets no cookie."
          : "no profile: cookieless"
      );
      clear($("profile-events"));
      empty($("profile-events"), "none yet");
      $("profile-seen").textContent = "";
      return;
    }
    var identities = profile.identities || [];
    var known = identities.some(function (i) { return i.kind === "userId"; });
    status.textContent = known ? "known user" : "anonymous";
    status.className = "badge " + (known ? "known" : "anon");

    chips(
      $("profile-identities"),
      identities.map(function (i) { return i.kind + ": " + i.value; }),
      "none yet"
    );
    chips(
      $("profile-segments"),
      (profile.segments || []).map(function (id) { return (body.segmentNames && body.segmentNames[id]) || id; }),
      "in no segment yet"
    );

    pairs($("profile-traits"), profile.traits, "none yet — sign in to add some");
    var consent = profile.consent || {};
    var purposes = {};
    Object.keys(consent.purposes || {}).forEach(function (purpose) {
      var source = consent.sources && consent.sources[purpose];
      purposes[purpose] = (consent.purposes[purpose] ? "granted" : "refused") + (source ? " (" + source + ")" : "");
    });
    pairs($("profile-consent"), purposes, "not known yet");
    pairs($("profile-counters"), profile.counters, "none yet");

    var list = $("profile-events");
    clear(list);
    var events = (profile.recentEvents || []).slice();
    events.sort(function (a, b) { return a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0; });
    events.slice(0, 15).forEach(function (event) {
      var li = document.createElement("li");
      var what = document.createElement("span");
      var type = document.createElement("span");
      var name = document.createElement("span");
      var when = document.createElement("time");
      type.className = "type";
      type.textContent = event.type;
      name.textContent = label(event);
      what.appendChild(type);
      what.appendChild(name);
      when.dateTime = event.timestamp;
      when.textContent = time(event.timestamp);
      li.appendChild(what);
      li.appendChild(when);
      list.appendChild(li);
    });
    if (!events.length) empty(list, "none yet");

    $("profile-seen").textContent = seen(profile);
  }

  var inFlight = false;
  function refresh() {
    if (inFlight) return;
    inFlight = true;
    fetch("/v1/me?writeKey=" + encodeURIComponent(writeKey), { credentials: "include", cache: "no-store" })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      })
      .then(function (body) {
        render(body);
      })
      .catch(function (error) {
        var status = $("profile-status");
        status.textContent = "offline";
        status.className = "badge";
        console.debug("demo: /v1/me failed", error);
      })
      .then(function () {
        inFlight = false;
      });
  }
  var soon = 0;
  // The tag batches for ~250 ms: ask a little later so the click is already on the profile.
  function refreshSoon() {
    clearTimeout(soon);
    soon = setTimeout(refresh, 600);
  }

  refresh();
  setInterval(refresh, 1500);
})();
