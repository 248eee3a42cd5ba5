// The live class on a Gradio page (the server side is classbar.py and core/classroom.py).
//
// A page in a class asks GET /gb_class/state every second: a plain route, outside Gradio's queue. The class bar is
// drawn here from that answer. A follower whose lecturer moved takes the new view: on the same page by writing its
// query into the ShareBar's hidden `follow` box (one Gradio event, computed from the result cache), on another
// page by opening that page's link. The lecturer's page sends its view whenever its link changes (the ShareBar's
// link script calls gbClass.moved()).
//
// Kept in this browser: the class this tab is in and whether it follows (sessionStorage: a tab's own), the
// tokens of the classes this browser started, a random member id and this browser's votes (localStorage).
(function () {
  const API = "/gb_class";
  const EVERY_MS = 1000;
  const HERE = "glassbox-class", TOKENS = "glassbox-class-tokens", MEMBER = "glassbox-member",
        VOTES = "glassbox-class-votes";

  function read(store, key, fallback) {
    try { const v = JSON.parse(store.getItem(key)); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  function write(store, key, value) {
    try { if (value === null) store.removeItem(key); else store.setItem(key, JSON.stringify(value)); } catch (e) {}
  }
  function memberId() {
    let id = read(localStorage, MEMBER, null);
    if (!id) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      write(localStorage, MEMBER, id);
    }
    return id;
  }
  function tokenOf(code) { return read(localStorage, TOKENS, {})[code] || null; }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }

  let me = read(sessionStorage, HERE, null);  // {code, following, applied: the class view this tab last took}
  let last = null;  // the latest state from the server
  let timer = null, busy = false, shownPoll = "", message = "";

  // A join link: /?class=K7Q2 (any page). The code leaves the address, the tab joins and follows.
  const q = new URLSearchParams(window.location.search);
  const joining = (q.get("class") || "").toUpperCase().replace(/[^A-Z0-9]/g, "").slice(0, 8);
  if (joining) {
    me = {code: joining, following: true, applied: null};
    write(sessionStorage, HERE, me);
    q.delete("class");
    const rest = q.toString();
    window.history.replaceState(window.history.state, "", window.location.pathname + (rest ? "?" + rest : ""));
  }

  async function call(method, path, body, token) {
    const headers = {"Content-Type": "application/json"};
    if (token) headers["X-Class-Token"] = token;
    const r = await fetch(API + path, {method, headers, cache: "no-store",
                                       body: body === undefined ? undefined : JSON.stringify(body)});
    let data = {};
    try { data = await r.json(); } catch (e) {}
    if (!r.ok) { const err = new Error(data.error || `The server answered ${r.status}.`); err.status = r.status; throw err; }
    return data;
  }
  const lecturer = () => !!(me && tokenOf(me.code));

  // ------------------------------------------------------------------ the bar

  function bar() {
    let el = document.getElementById("gb-class");
    if (!el) {
      el = document.createElement("section");
      el.id = "gb-class";
      el.setAttribute("aria-label", "Live class");
      document.body.prepend(el);
    }
    return el;
  }

  function skeleton() {
    const el = bar();
    const role = lecturer() ? "lecturer" : "learner";
    if (el.dataset.role === role && el.dataset.code === me.code) return el;
    el.dataset.role = role;
    el.dataset.code = me.code;
    if (role === "lecturer") {
      el.innerHTML = `<div class="gb-class-row"><strong>🏫 Class <span class="gb-class-code">${esc(me.code)}</span></strong>
        <span class="gb-class-join"></span><span class="gb-class-count"></span>
        <button type="button" data-act="qr" aria-expanded="false">QR code</button>
        <button type="button" data-act="askform" aria-expanded="false">Ask a question</button>
        <button type="button" data-act="ask_page">Ask this page's question</button>
        <button type="button" data-act="close">End class</button></div>
        <div class="gb-class-qr" hidden></div>
        <form class="gb-class-ask" hidden><label>Question <input name="question" maxlength="200" required
          value="What will the model answer?"></label>
          <label>Options, one per line (2 to 6) <textarea name="options" rows="4" required></textarea></label>
          <button type="submit">Ask</button></form>
        <p class="gb-class-msg" role="status"></p><div class="gb-class-poll"></div>`;
    } else {
      el.innerHTML = `<div class="gb-class-row"><strong>🏫 Class <span class="gb-class-code">${esc(me.code)}</span></strong>
        <span class="gb-class-mode"></span><span class="gb-class-count"></span>
        <button type="button" data-act="toggle"></button>
        <button type="button" data-act="leave">Leave class</button></div>
        <p class="gb-class-msg" role="status"></p><div class="gb-class-poll"></div>`;
    }
    shownPoll = "";
    return el;
  }

  function render() {
    if (!me) { const el = document.getElementById("gb-class"); if (el) el.remove(); return; }
    const el = skeleton();
    el.querySelector(".gb-class-msg").textContent = message;
    const s = last;
    if (!s) return;
    const count = `${s.following} following` + (lecturer() ? ` · ${s.learners} in class` : "");
    el.querySelector(".gb-class-count").textContent = count;
    if (lecturer()) {
      const j = el.querySelector(".gb-class-join");
      const link = window.location.origin + "/?class=" + me.code;
      if (!j.dataset.link) { j.dataset.link = link; j.innerHTML = `Join: <a href="${esc(link)}">${esc(link)}</a>`; }
    } else {
      el.querySelector(".gb-class-mode").textContent = me.following ? "Following the lecturer's view"
                                                                    : "Exploring on your own";
      el.querySelector('[data-act="toggle"]').textContent = me.following ? "Explore on my own" : "Follow again";
    }
    const key = JSON.stringify(s.poll) + (me.voted || "");
    if (key !== shownPoll) {
      shownPoll = key;
      el.querySelector(".gb-class-poll").innerHTML = pollHtml(s.poll);
    }
  }

  function pollHtml(p) {
    if (!p) return "";
    const mine = read(localStorage, VOTES, {})[`${me.code}#${p.id}`];
    let body;
    if (p.counts) {  // revealed (everyone), or the lecturer's screen as votes come in
      const most = Math.max(1, ...p.counts);
      const total = Math.max(1, p.counts.reduce((a, b) => a + b, 0));
      body = `<ol class="gb-class-hist" aria-label="Votes per option">` + p.options.map((o, i) => {
        const right = p.revealed && p.answer === i;
        return `<li class="${right ? "gb-class-right" : ""}"><span class="gb-class-opt">${esc(o)}${right ? " ✓" : ""}</span>
          <span class="gb-class-barbox"><span class="gb-class-fill" style="width:${(100 * p.counts[i] / most).toFixed(0)}%"></span></span>
          <span class="gb-class-n">${p.counts[i]} (${Math.round(100 * p.counts[i] / total)}%)</span></li>`;
      }).join("") + "</ol>";
    } else if (mine === undefined) {
      body = `<div class="gb-class-options" role="group" aria-label="Options">` + p.options.map((o, i) =>
        `<button type="button" data-vote="${i}">${esc(o)}</button>`).join("") + "</div>";
    } else {
      body = `<p>Your vote: <strong>${esc(p.options[mine] || "?")}</strong>. The answer comes when the lecturer reveals it.</p>`;
    }
    let answer = "";
    if (p.revealed) {
      answer = p.answer === null || p.answer === undefined
        ? `<p class="gb-class-answer">Revealed. ${esc(p.explain || "")}</p>`
        : `<p class="gb-class-answer">${p.source === "page" ? "The model's answer" : "The answer"}: <strong>${esc(p.answer_text)}</strong>. ${esc(p.explain || "")}</p>`;
    }
    let acts = "";
    if (lecturer()) {
      acts = p.revealed ? `<button type="button" data-act="end_poll">Close the question</button>`
                        : `<button type="button" data-act="reveal">Reveal the answer</button>`;
    }
    return `<div class="gb-class-q"><p class="gb-class-question"><strong>Question:</strong> ${esc(p.question)}
      <span class="gb-class-votes">${p.votes} vote${p.votes === 1 ? "" : "s"}${p.revealed ? "" : " so far"}</span></p>
      ${body}${answer}${acts}</div>`;
  }

  // ------------------------------------------------------------------ following, and the page's class record

  function press(cls) {  // one of the ShareBar's hidden buttons: its event's script asks gbClass for what to send
    const el = document.querySelector("." + cls);
    const btn = el && (el.tagName === "BUTTON" ? el : el.querySelector("button"));
    if (btn) btn.click();
    return !!btn;
  }
  let pendingQuery = "?";

  function follow() {
    if (!last || lecturer() || !me.following || me.applied === last.view) return;
    const cut = last.view.indexOf("?");
    const path = cut < 0 ? last.view : last.view.slice(0, cut), query = cut < 0 ? "?" : last.view.slice(cut);
    const took = () => { me.applied = last.view; write(sessionStorage, HERE, me); };
    if (path !== window.location.pathname) {  // another page: open the view's link there
      took();
      window.location.assign(last.view);
      return;
    }
    if (path === "/" || window.location.pathname + window.location.search === last.view) { took(); return; }
    // This page takes the view in place, once its own opening view is computed: an opening that finished after
    // the follow would put the page back on its defaults.
    const linked = document.querySelector('[id$="-link"] textarea, [id$="-link"] input');
    if (!linked || !linked.value.includes("?")) return;  // not drawn or not computed yet: the next tick
    pendingQuery = query;
    if (press("gb-class-follow")) took();
  }

  let tagged = "";
  const tagNow = () => {  // the class and its question for the page's JSON export: a new file at each change
    const p = last && last.poll;
    return me ? `${me.code}#${p ? p.id : 0}${p && p.revealed ? "r" : ""}` : "";
  };
  function tag() {
    const t = tagNow();
    if (t !== tagged && press("gb-class-tag")) tagged = t;
  }

  // ------------------------------------------------------------------ the loop

  async function tick() {
    if (!me || busy) return;
    busy = true;
    try {
      const token = tokenOf(me.code);
      const who = token ? "" : `&member=${memberId()}&following=${me.following ? 1 : 0}`;
      last = await call("GET", `/state?code=${encodeURIComponent(me.code)}${who}`, undefined, token);
      if (message.startsWith("The server cannot be reached")) message = "";
      render();
      // The lecturer opened another page: the class goes there at once, so that the learners' pages load while
      // hers computes (her link, when computed, follows through moved()).
      if (lecturer() && last.view.split("?")[0] !== window.location.pathname) window.gbClass.moved();
      follow();
      tag();
    } catch (e) {
      if (e.status === 400) { leave(e.message); return; }  // the class ended (or was never there)
      message = "The server cannot be reached; trying again every second.";
      render();
    } finally {
      busy = false;
    }
  }

  function begin() {
    if (timer === null && me) { timer = window.setInterval(tick, EVERY_MS); tick(); }
  }

  function leave(why) {
    const code = me && me.code;
    me = null;
    last = null;
    write(sessionStorage, HERE, null);
    if (timer !== null) { window.clearInterval(timer); timer = null; }
    render();
    tag();
    const hint = document.querySelector(".gb-class-hint");
    if (hint && why) hint.textContent = `Class ${code}: ${why}`;
  }

  async function act(name, el) {
    const code = me.code, token = tokenOf(code);
    message = "";
    try {
      if (name === "toggle") {
        me.following = !me.following;
        if (me.following) me.applied = null;  // follow again: take the lecturer's view now
        write(sessionStorage, HERE, me);
        render();
        tick();
        return;
      }
      if (name === "leave") { leave(""); return; }
      if (name === "qr") {
        const box = document.querySelector("#gb-class .gb-class-qr");
        box.hidden = !box.hidden;
        el.setAttribute("aria-expanded", String(!box.hidden));
        if (!box.hidden && !box.firstChild) {
          const r = await call("GET", `/qr?code=${code}&base=${encodeURIComponent(window.location.origin)}`);
          box.innerHTML = `<img src="${r.qr}" alt="QR code of the join link ${esc(r.join)}" width="240" height="240">
            <p>Scan, or open <strong>${esc(r.join)}</strong>, or type the code <strong>${esc(code)}</strong>
            on the Glassbox home page.</p>`;
        }
        return;
      }
      if (name === "askform") {
        const form = document.querySelector("#gb-class .gb-class-ask");
        form.hidden = !form.hidden;
        el.setAttribute("aria-expanded", String(!form.hidden));
        if (!form.hidden) form.querySelector("textarea").focus();
        return;
      }
      if (name === "close") {
        await call("POST", "/set", {code, action: "close"}, token);
        leave("you ended it.");
        return;
      }
      if (["ask_page", "reveal", "end_poll"].includes(name)) {
        if (name === "ask_page") message = "Computing the page's question…";
        render();
        last = await call("POST", "/set", {code, action: name}, token);
        message = "";
        render();
      }
    } catch (e) {
      message = e.message;
      render();
    }
  }

  async function vote(i) {
    const p = last && last.poll;
    if (!p) return;
    try {
      last = await call("POST", "/vote", {code: me.code, member: memberId(), option: i, poll: p.id});
      message = "";
    } catch (e) {
      message = e.message;
    }
    if (!message || message.startsWith("This browser has already voted")) {
      const votes = read(localStorage, VOTES, {});
      if (votes[`${me.code}#${p.id}`] === undefined) votes[`${me.code}#${p.id}`] = i;
      write(localStorage, VOTES, votes);
    }
    render();
  }

  async function start() {
    try {
      const s = await call("POST", "/open", {view: window.location.pathname + window.location.search});
      const tokens = read(localStorage, TOKENS, {});
      tokens[s.code] = s.token;
      write(localStorage, TOKENS, tokens);
      me = {code: s.code, following: true, applied: s.view};
      write(sessionStorage, HERE, me);
      last = s;
      render();
      begin();
      const qr = document.querySelector('#gb-class [data-act="qr"]');
      if (qr) act("qr", qr);  // the code and the QR code at once: that is what the room needs to see
    } catch (e) {
      const hint = document.querySelector(".gb-class-hint");
      if (hint) hint.textContent = e.message;
    }
  }

  document.addEventListener("click", (e) => {
    const t = e.target;
    if (!t || !t.closest) return;
    if (t.closest(".gb-class-start")) { start(); return; }
    const b = t.closest("#gb-class [data-act]");
    if (b && me) { act(b.dataset.act, b); return; }
    const v = t.closest("#gb-class [data-vote]");
    if (v && me) vote(Number(v.dataset.vote));
  });
  document.addEventListener("submit", async (e) => {
    const form = e.target;
    if (form.matches && form.matches("#gb-class .gb-class-ask")) {
      e.preventDefault();
      const options = form.elements["options"].value.split("\n").map((s) => s.trim()).filter(Boolean);
      try {
        last = await call("POST", "/set", {code: me.code, action: "ask", question: form.elements["question"].value, options},
                          tokenOf(me.code));
        message = "";
        form.hidden = true;
      } catch (err) {
        message = err.message;
      }
      render();
    } else if (form.matches && form.matches(".gb-class-join-form")) {
      e.preventDefault();
      const code = form.elements["code"].value.toUpperCase().replace(/[^A-Z0-9]/g, "").slice(0, 8);
      if (code) window.location.assign("/?class=" + code);
    }
  });

  window.gbClass = {
    // The lecturer's link changed: every follower's page takes this view.
    moved() {
      if (!lecturer()) return;
      const view = window.location.pathname + window.location.search;
      call("POST", "/set", {code: me.code, action: "view", view}, tokenOf(me.code))
        .then((s) => { last = s; render(); tag(); })
        .catch((e) => { message = e.message; render(); });
    },
    state: () => last,
    member: memberId,
    pending: () => pendingQuery,  // read by the follow button's event
    tag: tagNow,  // read by the tag button's event
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => { render(); begin(); });
  else { render(); begin(); }
})();
