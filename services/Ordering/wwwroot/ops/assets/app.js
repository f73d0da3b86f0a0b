// Brokering ops console: a small client of the ops API (/v1/ops) and of the review desk (/v1/review-desk). No framework: the DOM is built with
// textContent only (never innerHTML with data), so buyer- and operator-supplied text cannot inject markup.
// Every API call carries the signed-in person's bearer token (kept in sessionStorage, so it ends with the tab);
// the live summary is read with fetch rather than EventSource, which cannot send an Authorization header.
// An operator (role ops) sees every page; a compliance officer without ops the review desk only: the console lays itself
// out from GET /v1/console/session, and each API keeps its own policy whatever the page shows.

const API = "/v1/ops";
const AT_RISK_MINUTES = 15;
const ACTION_LABELS = {
  Cancel: { button: "Cancel reservation", title: "Cancel this reservation?", confirm: "Cancel reservation", danger: true },
  ReleaseHolds: { button: "Release holds", title: "Release this reservation's holds?", confirm: "Release holds", danger: true },
  Rescreen: { button: "Re-screen", title: "Ask compliance to screen it again?", confirm: "Re-screen", danger: false },
};

const TOKEN_KEY = "brokering.ops.token";
const SESSION_KEY = "brokering.ops.session";
const SESSION = "/v1/console/session";
const NOT_ADMITTED = "This token carries neither the ops nor the compliance-officer role.";

const main = document.getElementById("main");
const announcer = document.getElementById("announcer");
const state = { summary: null, clockOffset: 0, graph: null, states: null, timer: null, route: null, signedIn: null, reviews: null, drafts: new Map() };

// ---------- DOM helpers ----------

function h(tag, attributes = {}, ...children) {
  const element = tag === "svg" || attributes.svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false || name === "svg") continue;
    if (name === "class") element.setAttribute("class", value);
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function s(tag, attributes = {}, ...children) {
  return h(tag, { ...attributes, svg: true }, ...children);
}

function link(href, text, attributes = {}) {
  return h("a", { href, "data-nav": true, ...attributes }, text);
}

function announce(message) {
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = message; }, 50);
}

function badge(stateName, large = false) {
  return h("span", { class: large ? "badge badge-lg" : "badge", "data-state": stateName }, stateName);
}

// Reservation ids are UUIDv7: ids made in the same minute share their leading (time) digits, so a
// short form keeps the head and the random tail.
function shortId(id) {
  return `${id.slice(0, 8)}…${id.slice(-4)}`;
}

const numberFormat = new Intl.NumberFormat("en-US");
function money(amount, currency) {
  return `${numberFormat.format(amount)} ${currency}`;
}

function utc(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  const text = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  return h("time", { datetime: iso, title: date.toLocaleString() }, text);
}

function now() {
  return Date.now() + state.clockOffset;
}

function countdownText(cutoff) {
  const ms = new Date(cutoff).getTime() - now();
  const overdue = ms < 0;
  let seconds = Math.floor(Math.abs(ms) / 1000);
  const days = Math.floor(seconds / 86400); seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
  const pad = (n) => String(n).padStart(2, "0");
  const text = days > 0 ? `${days}d ${hours}h` : hours > 0 ? `${hours}h ${pad(minutes)}m` : `${minutes}m ${pad(seconds)}s`;
  const level = overdue ? "overdue" : ms < 5 * 60000 ? "urgent" : ms < AT_RISK_MINUTES * 60000 ? "soon" : "ok";
  return { text: overdue ? `overdue ${text}` : text, level };
}

function countdown(cutoff) {
  if (!cutoff) return h("span", { class: "muted" }, "no cutoff");
  const element = h("span", { class: "countdown", "data-cutoff": cutoff });
  updateCountdown(element);
  return element;
}

function updateCountdown(element) {
  const { text, level } = countdownText(element.dataset.cutoff);
  element.textContent = text;
  element.dataset.level = level;
}

setInterval(() => document.querySelectorAll("[data-cutoff]").forEach(updateCountdown), 1000);

// ---------- Token ----------

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function claimsOf(jwt) {
  try {
    const payload = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

// Who is signed in and which pages their roles open ({ subject, operator, officer, sections }), from /v1/console/session.
function session() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
  } catch {
    return null;
  }
}

function isOperator() {
  return session()?.operator === true;
}

function signIn(jwt, who) {
  sessionStorage.setItem(TOKEN_KEY, jwt);
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(who));
  showWho();
  const resume = state.signedIn;
  state.signedIn = null;
  resume?.();
}

function signOut(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(SESSION_KEY);
  showWho();
  showSignIn(reason);
}

function showWho() {
  const jwt = token();
  document.getElementById("who").hidden = !jwt;
  document.getElementById("who-name").textContent = jwt ? `Signed in as ${claimsOf(jwt).sub ?? "operator"}` : "";
  // Only the pages this person's roles open are offered; the live summary is the ops stream, so operators only.
  const sections = session()?.sections ?? [];
  document.querySelectorAll(".nav a[data-section]").forEach((a) => { a.parentElement.hidden = !!jwt && !sections.includes(a.dataset.section); });
  document.getElementById("live").hidden = !!jwt && !isOperator();
}

document.getElementById("sign-out").addEventListener("click", () => signOut("You signed out."));

function untilSignedIn() {
  return new Promise((resolve) => {
    const previous = state.signedIn;
    state.signedIn = () => { previous?.(); resolve(); };
  });
}

// ---------- API ----------

async function api(path, options = {}) {
  const jwt = token();
  if (!jwt) {
    showSignIn();
    throw new Error("Sign in to use the console.");
  }
  const response = await fetch(path.startsWith("/v1/") ? path : API + path, {
    method: options.method ?? "GET",
    headers: {
      Accept: "application/json",
      Authorization: `Bearer ${jwt}`,
      ...(options.body ? { "Content-Type": "application/json" } : {}),
    },
    body: options.body ? JSON.stringify(options.body) : undefined,
  });
  if (response.status === 401) {
    signOut("Your session ended: sign in again.");
    throw new Error("Your session ended: sign in again.");
  }
  const type = response.headers.get("Content-Type") ?? "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    // A 403 from the authorization policy has no body; one relayed from compliance says why.
    const forbidden = response.status === 403 && !(body && typeof body === "object" && body.detail);
    const error = new Error(forbidden ? options.forbidden ?? "This token does not carry the ops role." : problemText(body, response.status));
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return body;
}

function problemText(body, status) {
  if (body && typeof body === "object") {
    if (body.errors) return Object.values(body.errors).flat().join(" ");
    return body.detail ?? body.title ?? `HTTP ${status}`;
  }
  return `HTTP ${status}`;
}

// ---------- Live summary (server-sent events over fetch) ----------

function setLive(liveState, text) {
  const live = document.getElementById("live");
  live.dataset.state = liveState;
  document.getElementById("live-text").textContent = text;
}

async function connect() {
  for (let attempt = 0; ; attempt++) {
    const jwt = token();
    if (!jwt || !isOperator()) {
      setLive("down", "Signed out");
      await untilSignedIn();
      attempt = 0;
      continue;
    }
    try {
      const response = await fetch(`${API}/stream?atRiskWithin=${AT_RISK_MINUTES}`, {
        headers: { Accept: "text/event-stream", Authorization: `Bearer ${jwt}` },
        cache: "no-store",
      });
      if (response.status === 401) {
        signOut("Your session ended: sign in again.");
        continue;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      attempt = 0;
      await readEvents(response.body, (type, data) => {
        if (type === "summary") onSummaryEvent(JSON.parse(data));
      });
    } catch {
      // Dropped or refused: retry below with backoff.
    }
    setLive("down", "Reconnecting…");
    await new Promise((resolve) => setTimeout(resolve, Math.min(30000, 1000 * 2 ** Math.min(attempt, 5))));
  }
}

// Parses a text/event-stream body: blocks separated by a blank line, "event:" and "data:" fields.
async function readEvents(body, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) type = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) dispatch(type, data.join("\n"));
    }
  }
}

function onSummaryEvent(summary) {
  state.clockOffset = new Date(summary.at).getTime() - Date.now();
  state.summary = summary;
  setLive("live", "Live");
  document.getElementById("live").title = `Last update ${new Date(summary.at).toISOString()}`;
  onSummary(summary);
}

function onSummary(summary) {
  showReviewCount(summary.countsByState.UnderReview ?? 0);
  if (state.route?.name === "overview") renderOverview(summary);
  else if (state.route?.name === "sagas") refreshListQuietly();
  else if (state.route?.name === "reviews") refreshReviewsQuietly();
}

function showReviewCount(count) {
  const element = document.getElementById("nav-review-count");
  element.hidden = count === 0;
  element.textContent = count;
  element.setAttribute("aria-label", `${count} under review`);
}

// ---------- Sign in ----------

function showSignIn(message) {
  clearInterval(state.timer);
  const field = (id, label, input, hint) => h("div", { class: "field" }, h("label", { for: id }, label), input, hint);
  const error = h("p", { class: "field-error", id: "sign-in-error", role: "alert", hidden: true });
  const tokenForm = h("form", { "aria-labelledby": "token-title" },
    h("h2", { id: "token-title" }, "Sign in with a token"),
    field("sign-in-token", "Access token", h("textarea", { id: "sign-in-token", rows: 4, required: true, spellcheck: "false", class: "mono", autocomplete: "off" }),
      h("p", { class: "muted small" }, "A bearer token with the ops role, the compliance-officer role, or both. It is kept in this tab only (session storage).")),
    error,
    h("div", {}, h("button", { type: "submit", class: "button button-primary" }, "Sign in")));
  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    tryToken(tokenForm.elements["sign-in-token"].value.trim(), error);
  });
  const devError = h("p", { class: "field-error", role: "alert", hidden: true });
  const devForm = h("form", { "aria-labelledby": "dev-title" },
    h("h2", { id: "dev-title" }, "Development"),
    h("p", { class: "muted small" }, "A service running in Development issues tokens to anyone; elsewhere this does nothing."),
    field("dev-name", "Your name (recorded with your actions)", h("input", { id: "dev-name", value: "ops-dev", autocomplete: "off", spellcheck: "false" })),
    field("dev-roles", "Roles", h("select", { id: "dev-roles" },
      h("option", { value: "ops" }, "Operator (ops)"),
      h("option", { value: "compliance-officer" }, "Compliance officer"),
      h("option", { value: "ops compliance-officer" }, "Both"))),
    devError,
    h("div", {}, h("button", { type: "submit", class: "button" }, "Get a development token")));
  devForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch("/dev/tokens", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ subject: devForm.elements["dev-name"].value.trim() || "ops-dev", roles: devForm.elements["dev-roles"].value.split(" ") }),
    });
    if (!response.ok) {
      devError.textContent = response.status === 404 ? "This service is not running in Development." : `HTTP ${response.status}`;
      devError.hidden = false;
      return;
    }
    tryToken((await response.json()).accessToken, devError);
  });
  page("Sign in", [
    message ? h("p", { class: "notice", role: "status" }, message) : null,
    h("div", { class: "sign-in" },
      h("section", { class: "panel" }, h("div", { class: "panel-body" }, tokenForm)),
      h("section", { class: "panel" }, h("div", { class: "panel-body" }, devForm))),
  ], { head: h("p", { class: "muted" }, "The console is for operators (the ops role) and compliance officers (the review desk).") });
}

async function tryToken(jwt, error) {
  const response = jwt ? await fetch(SESSION, { headers: { Authorization: `Bearer ${jwt}`, Accept: "application/json" } }) : null;
  if (!response?.ok) {
    error.textContent = !response ? "Paste a token." : response.status === 403 ? NOT_ADMITTED : "This token is not valid (or has expired).";
    error.hidden = false;
    return;
  }
  signIn(jwt, await response.json());
  announce("Signed in.");
  navigate(location.pathname + location.search, false);
}

// ---------- Router ----------

function parseRoute(url) {
  const path = url.pathname.replace(/\/+$/, "") || "/ops";
  let match;
  if (path === "/ops") return { name: "overview" };
  if (path === "/ops/sagas") return { name: "sagas", query: url.searchParams };
  if ((match = path.match(/^\/ops\/sagas\/([0-9a-fA-F-]{36})$/))) return { name: "saga", id: match[1].toLowerCase() };
  if (path === "/ops/state-machine") return { name: "state-machine" };
  if (path === "/ops/reviews") return { name: "reviews" };
  return { name: "not-found" };
}

async function navigate(url, push = true) {
  if (push) history.pushState(null, "", url);
  clearInterval(state.timer);
  if (!token()) {
    state.route = { name: "sign-in" };
    showSignIn();
    return;
  }
  if (!session()) {
    // Signed in before the console laid itself out by role (or the answer was lost): ask again.
    const response = await fetch(SESSION, { headers: { Authorization: `Bearer ${token()}`, Accept: "application/json" } });
    if (!response.ok) {
      signOut(response.status === 403 ? NOT_ADMITTED : "Your session ended: sign in again.");
      return;
    }
    signIn(token(), await response.json());
  }
  state.route = parseRoute(new URL(url, location.origin));
  const sections = session().sections;
  if (state.route.name === "overview" && !sections.includes("overview")) {
    // The console's start page for whoever may not see the overview (a compliance officer): their first page.
    history.replaceState(null, "", `/ops/${sections[0]}`);
    state.route = parseRoute(new URL(`/ops/${sections[0]}`, location.origin));
  }
  const section = state.route.name === "saga" ? "sagas" : state.route.name;
  document.querySelectorAll(".nav a").forEach((a) => {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  if (state.route.name !== "not-found" && !sections.includes(section)) {
    page("For operators only", [h("p", { class: "notice", "data-testid": "not-for-role" },
      "This page is for operators (the ops role). As a compliance officer you work the ", link("/ops/reviews", "review desk"), ".")]);
    return;
  }
  try {
    if (isOperator()) await loadStates();
    switch (state.route.name) {
      case "overview": await showOverview(); break;
      case "sagas": await showList(state.route.query); break;
      case "saga": await showSaga(state.route.id); break;
      case "state-machine": await showStateMachine(); break;
      case "reviews": await showReviews(); break;
      default: page("Not found", [h("p", {}, "There is no such page in the console. ", link("/ops", "Go to the overview."))]);
    }
  } catch (error) {
    if (!token()) return; // signed out meanwhile: the sign-in page is showing
    page("Something went wrong", [h("p", { class: "notice notice-error", role: "alert" }, error.message)]);
  }
}

function page(title, content, { head = null, breadcrumb = null, focus = true, badge: titleBadge = null, aside = null } = {}) {
  document.title = `${title} · Ops console · Brokering`;
  const heading = h("h1", { id: "page-title", tabindex: "-1" }, title);
  main.replaceChildren(
    h("div", { class: "page-head" },
      h("div", {}, breadcrumb, h("div", { class: "title-line" }, heading, titleBadge), head),
      aside),
    ...content.filter(Boolean),
  );
  if (focus) heading.focus({ preventScroll: true });
}

document.addEventListener("click", (event) => {
  const anchor = event.target.closest("a[data-nav]");
  if (!anchor || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href"));
});
window.addEventListener("popstate", () => navigate(location.pathname + location.search, false));

// ---------- Overview ----------

async function showOverview() {
  page("Overview", [h("div", { id: "overview" }, h("p", { class: "muted" }, "Loading…"))],
    { head: h("p", { class: "muted", id: "overview-updated" }, "Counts per state and the cutoffs closing in, live.") });
  const summary = state.summary ?? await api(`/summary?atRiskWithin=${AT_RISK_MINUTES}`);
  renderOverview(summary);
}

function renderOverview(summary) {
  const container = document.getElementById("overview");
  if (!container || !state.states) return;
  const next = summary.nextCutoff;
  const kpis = h("dl", { class: "kpis" },
    h("div", { class: "kpi" }, h("dt", {}, "In flight"), h("dd", { "data-testid": "in-flight" }, summary.inFlight)),
    h("div", { class: "kpi" }, h("dt", {}, `At risk (cutoff within ${summary.atRiskWithin} min)`),
      h("dd", { class: summary.atRisk > 0 ? "kpi-alert" : "", "data-testid": "at-risk" }, summary.atRisk)),
    h("div", { class: "kpi" }, h("dt", {}, "Next cutoff"), h("dd", {}, next ? countdown(next) : h("span", { class: "muted" }, "none"))),
  );
  const counts = (title, names) => h("div", { class: "group" },
    h("h3", { class: "group-title" }, title),
    h("ul", { class: "counts" }, names.map((name) => {
      const count = summary.countsByState[name] ?? 0;
      return h("li", {}, link(`/ops/sagas?state=${name}`, [
        badge(name),
        h("span", { class: count === 0 ? "count count-zero" : "count", "data-testid": `count-${name}` }, count),
      ], { "aria-label": `${name}: ${count} reservations` }));
    })));
  const rows = summary.nearestCutoffs;
  const atRisk = h("section", { class: "panel", "aria-labelledby": "nearest-title" },
    h("header", {},
      h("h2", { id: "nearest-title" }, "Nearest cutoffs"),
      link(`/ops/sagas?atRiskWithin=${summary.atRiskWithin}`, `All at risk within ${summary.atRiskWithin} min`)),
    rows.length === 0
      ? h("p", { class: "empty" }, "No reservation in flight has a cutoff.")
      : h("div", { class: "table-wrap" }, sagaTable(rows, "Reservations in flight, nearest cutoff first")));
  container.replaceChildren(
    kpis,
    h("section", { class: "panel", "aria-labelledby": "states-title" },
      h("header", {}, h("h2", { id: "states-title" }, "Reservations by state"),
        h("p", { class: "muted small" }, "Updated ", utc(summary.at))),
      h("div", { class: "panel-body" }, counts("In flight", state.states.live), counts("Ended", state.states.ended))),
    atRisk,
    freshnessPanel(summary.stockFreshness),
  );
}

// Stock freshness per distributor, as inventory reports it. Ages tick in the browser between summaries;
// a feed is marked stale once inventory says so, or once its age passes inventory's threshold meanwhile.
function freshnessPanel(freshness) {
  const distributors = freshness?.distributors ?? [];
  const threshold = freshness?.staleAfterSeconds;
  const staleCount = distributors.filter((d) => d.stale).length;
  const note = freshness?.unavailable
    ? h("p", { class: "notice small", "data-testid": "freshness-unavailable" },
      freshness.asOf ? `Not current: ${freshness.unavailable} Last answer ${new Date(freshness.asOf).toISOString()}.` : freshness.unavailable)
    : h("p", { class: "muted small" }, threshold != null ? `Stale after ${ageText(threshold)} without a feed` : "");
  const table = h("table", {},
    h("caption", { class: "sr-only" }, "Stock feed freshness per distributor"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Distributor"), h("th", { scope: "col" }, "Last feed"), h("th", { scope: "col" }, "Age"),
      h("th", { scope: "col", class: "num" }, "Sequence"), h("th", { scope: "col" }, "Feed"))),
    h("tbody", {}, distributors.map((d) => h("tr", { "data-distributor": d.distributorId },
      h("td", {}, h("span", { class: "mono" }, d.distributorId), " ", h("span", { class: "muted small" }, d.name)),
      h("td", {}, d.lastFeedAt ? utc(d.lastFeedAt) : h("span", { class: "muted" }, "never")),
      h("td", {}, d.lastFeedAt
        ? h("span", { class: "feed-age", "data-fed-at": d.lastFeedAt, "data-stale-after": threshold ?? "", "data-stale": String(d.stale) })
        : h("span", { class: "muted" }, "—")),
      h("td", { class: "num" }, d.lastSequence),
      h("td", {}, h("span", { class: d.stale ? "freshness freshness-stale" : "freshness freshness-fresh", "data-testid": `freshness-${d.distributorId}` },
        d.stale ? "Stale" : "Fresh"), d.gapOpen ? h("span", { class: "freshness freshness-gap" }, "Gap") : "")))));
  const panel = h("section", { class: "panel", "aria-labelledby": "freshness-title" },
    h("header", {}, h("h2", { id: "freshness-title" }, "Stock freshness"),
      h("p", { class: staleCount > 0 ? "stale-alert small" : "muted small", "data-testid": "stale-count" },
        `${staleCount} of ${distributors.length} stale`)),
    h("div", { class: "panel-body" }, note,
      distributors.length === 0 ? h("p", { class: "empty" }, "No distributor is registered.") : h("div", { class: "table-wrap" }, table)));
  panel.querySelectorAll("[data-fed-at]").forEach(updateFeedAge);
  return panel;
}

function ageText(totalSeconds) {
  let seconds = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(seconds / 86400); seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600); seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60); seconds -= minutes * 60;
  return days > 0 ? `${days}d ${hours}h` : hours > 0 ? `${hours}h ${minutes}m` : minutes > 0 ? `${minutes}m ${seconds}s` : `${seconds}s`;
}

function updateFeedAge(element) {
  const age = (now() - new Date(element.dataset.fedAt).getTime()) / 1000;
  const threshold = element.dataset.staleAfter === "" ? Infinity : Number(element.dataset.staleAfter);
  element.textContent = ageText(age);
  element.dataset.level = element.dataset.stale === "true" || age >= threshold ? "stale" : age >= threshold / 2 ? "ageing" : "fresh";
}

setInterval(() => document.querySelectorAll("[data-fed-at]").forEach(updateFeedAge), 1000);

function sagaTable(rows, caption) {
  return h("table", {},
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Reservation"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Buyer"),
      h("th", { scope: "col" }, "Destination"), h("th", { scope: "col" }, "SKUs"), h("th", { scope: "col", class: "num" }, "Held / requested"),
      h("th", { scope: "col" }, "Cutoff"), h("th", { scope: "col" }, "Time left"))),
    h("tbody", {}, rows.map((row) => h("tr", { "data-id": row.id },
      h("td", {}, link(`/ops/sagas/${row.id}`, shortId(row.id), { class: "mono", "aria-label": `Reservation ${row.id}` })),
      h("td", {}, badge(row.state)),
      h("td", {}, row.buyerId),
      h("td", {}, row.destinationCountry),
      h("td", {}, row.skus.join(", ")),
      h("td", { class: "num" }, `${row.unitsAllocated} / ${row.unitsRequested}`),
      h("td", {}, utc(row.cutoff)),
      h("td", {}, isEnded(row.state) ? h("span", { class: "muted" }, "ended") : countdown(row.cutoff))))));
}

// ---------- Reservation list ----------

async function showList(query) {
  const value = (name) => query.get(name) ?? "";
  const stateSelect = h("select", { id: "f-state", name: "state" },
    h("option", { value: "" }, "Any state"),
    [...state.states.live, ...state.states.ended].map((name) => h("option", { value: name, selected: value("state") === name }, name)));
  const field = (id, label, input) => h("div", { class: "field" }, h("label", { for: id }, label), input);
  const form = h("form", { class: "filters", id: "filters", role: "search", "aria-label": "Filter reservations" },
    field("f-state", "State", stateSelect),
    field("f-sku", "SKU", h("input", { id: "f-sku", name: "sku", value: value("sku"), autocomplete: "off", spellcheck: "false" })),
    field("f-buyer", "Buyer", h("input", { id: "f-buyer", name: "buyer", value: value("buyer"), autocomplete: "off", spellcheck: "false" })),
    field("f-distributor", "Distributor", h("input", { id: "f-distributor", name: "distributor", value: value("distributor"), autocomplete: "off", spellcheck: "false" })),
    field("f-risk", "At risk within (min)", h("input", { id: "f-risk", name: "atRiskWithin", type: "number", min: 0, max: 10080, inputmode: "numeric", value: value("atRiskWithin") })),
    h("div", { class: "form-buttons" },
      h("button", { type: "submit", class: "button button-primary" }, "Apply"),
      link("/ops/sagas", "Clear", { class: "button" })));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const [name, v] of new FormData(form)) if (String(v).trim() !== "") params.set(name, String(v).trim());
    navigate(`/ops/sagas${params.size ? `?${params}` : ""}`);
  });
  const open = h("form", { class: "inline-form", "aria-label": "Open a reservation by id" },
    field("f-id", "Open by reservation id", h("input", { id: "f-id", name: "id", class: "mono", size: 38, autocomplete: "off", spellcheck: "false", pattern: "[0-9a-fA-F-]{36}" })),
    h("button", { type: "submit", class: "button" }, "Open"));
  open.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = open.elements.id.value.trim();
    if (/^[0-9a-fA-F-]{36}$/.test(id)) navigate(`/ops/sagas/${id}`);
    else announce("A reservation id is 36 characters: 8-4-4-4-12 hexadecimal digits.");
  });
  page("Reservations", [
    h("section", { class: "panel", "aria-label": "Filters" }, h("div", { class: "panel-body" }, form)),
    h("section", { class: "panel", "aria-labelledby": "results-title" },
      h("header", {}, h("h2", { id: "results-title" }, "Results"), h("p", { class: "muted", id: "results-count", "aria-live": "polite" }, "Loading…")),
      h("div", { id: "results" })),
    h("section", { class: "panel" }, h("div", { class: "panel-body" }, open)),
  ], { head: h("p", { class: "muted" }, "Every reservation saga, most urgent first: live ones by cutoff, then ended ones, latest first.") });
  await loadList(query);
}

// Each read of the list is numbered: an answer that comes back after a newer read began (a quiet refresh of the old
// filters racing the operator's Apply) is dropped instead of overwriting the newer one.
let listReads = 0;

async function loadList(query) {
  const results = document.getElementById("results");
  if (!results) return;
  const read = ++listReads;
  const params = new URLSearchParams(query);
  const pageNumber = Number(params.get("page") ?? "1");
  params.set("pageSize", "25");
  let data;
  try {
    data = await api(`/sagas?${params}`);
    if (read !== listReads) return;
  } catch (error) {
    if (read !== listReads) return;
    results.replaceChildren(h("p", { class: "notice notice-error", role: "alert" }, error.message));
    document.getElementById("results-count").textContent = "";
    return;
  }
  const pages = Math.max(1, Math.ceil(data.total / data.pageSize));
  document.getElementById("results-count").textContent = `${data.total} reservation${data.total === 1 ? "" : "s"}`;
  const pageLink = (n, text, rel) => {
    const next = new URLSearchParams(query);
    next.set("page", String(n));
    return link(`/ops/sagas?${next}`, text, { class: "button", rel });
  };
  results.replaceChildren(...[
    data.items.length === 0
      ? h("p", { class: "empty" }, "No reservation matches these filters.")
      : h("div", { class: "table-wrap" }, sagaTable(data.items, "Reservations matching the filters")),
    pages > 1 ? h("nav", { class: "pager", "aria-label": "Pages" },
      pageNumber > 1 ? pageLink(pageNumber - 1, "← Previous", "prev") : h("span"),
      h("span", { class: "muted" }, `Page ${pageNumber} of ${pages}`),
      pageNumber < pages ? pageLink(pageNumber + 1, "Next →", "next") : h("span")) : null,
  ].filter(Boolean));
}

let listRefresh = null;
function refreshListQuietly() {
  // Re-read the current page when the summary changes, unless the operator is inside the table.
  clearTimeout(listRefresh);
  listRefresh = setTimeout(() => {
    const results = document.getElementById("results");
    if (state.route?.name === "sagas" && results && !results.contains(document.activeElement)) loadList(state.route.query);
  }, 300);
}

// ---------- One saga ----------

async function showSaga(id) {
  const detail = await loadSaga(id);
  if (!detail) return;
  renderSaga(detail, true);
  const key = (d) => JSON.stringify({ ...d, saga: { ...d.saga, minutesToCutoff: null } });
  let shown = key(detail);
  state.timer = setInterval(async () => {
    if (document.hidden || document.getElementById("action-dialog").open) return;
    const fresh = await loadSaga(id, false);
    const text = fresh && key(fresh);
    // Re-render only on change (a re-render moves focus back to the page); countdowns tick by themselves.
    if (fresh && text !== shown && state.route?.name === "saga" && state.route.id === id) {
      shown = text;
      renderSaga(fresh, false);
    }
  }, 2000);
}

async function loadSaga(id, reportMissing = true) {
  try {
    return await api(`/sagas/${id}`);
  } catch (error) {
    if (reportMissing) {
      page("Reservation not found", [h("p", { class: "notice notice-error", role: "alert" }, error.message),
        h("p", {}, link("/ops/sagas", "Back to reservations"))]);
    }
    return null;
  }
}

function renderSaga(detail, focus) {
  const saga = detail.saga;
  const crumbs = h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" },
    h("ol", {}, h("li", {}, link("/ops/sagas", "Reservations")), h("li", { "aria-current": "page", class: "mono" }, saga.id)));
  const head = h("div", { class: "actions", role: "group", "aria-label": "Actions" },
    detail.actions.map((action) => h("button", {
      type: "button",
      class: "button",
      "data-action": action.action,
      onclick: () => openAction(saga.id, action),
    }, ACTION_LABELS[action.action]?.button ?? action.action)));
  const message = document.getElementById("action-message");
  const facts = h("dl", { class: "facts" },
    fact("State", badge(saga.state)),
    fact("Status", saga.statusReason ?? h("span", { class: "muted" }, "—")),
    fact("Buyer", saga.buyerId),
    fact("Destination", saga.destinationCountry),
    fact("Submitted", utc(saga.submittedAt)),
    fact("Last change", utc(saga.updatedAt)),
    fact("Cutoff", saga.cutoff ? h("span", {}, utc(saga.cutoff), " · ", isEnded(saga.state) ? "ended" : countdown(saga.cutoff)) : h("span", { class: "muted" }, "none")),
    fact("Holds expire", utc(detail.holdsExpireAt)),
    fact("Compliance decision", detail.decisionId ? h("span", { class: "mono", "data-testid": "decision" }, detail.decisionId) : h("span", { class: "muted" }, "not screened yet")),
    fact("Plan version", detail.planVersion),
    fact("Units held", `${saga.unitsAllocated} of ${saga.unitsRequested}`));
  const lines = h("table", {},
    h("caption", { class: "sr-only" }, "Lines requested"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "SKU"), h("th", { scope: "col", class: "num" }, "Quantity"),
      h("th", { scope: "col", class: "num" }, "Max unit price"), h("th", { scope: "col", class: "num" }, "Held"))),
    h("tbody", {}, detail.lines.map((line) => h("tr", {},
      h("td", { class: "mono" }, line.sku), h("td", { class: "num" }, line.quantity),
      h("td", { class: "num" }, money(line.maxUnitPrice, line.currency)),
      h("td", { class: "num" }, detail.holds.filter((a) => a.sku === line.sku).reduce((sum, a) => sum + a.quantity, 0))))));
  const holds = detail.holdsByDistributor.length === 0
    ? h("p", { class: "empty" }, "Nothing held.")
    : h("table", {},
      h("caption", { class: "sr-only" }, "Holds per distributor"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Distributor"), h("th", { scope: "col" }, "Warehouse"), h("th", { scope: "col" }, "SKU"),
        h("th", { scope: "col", class: "num" }, "Units"), h("th", { scope: "col", class: "num" }, "Unit price"), h("th", { scope: "col" }, "Hold"))),
      h("tbody", {}, detail.holdsByDistributor.flatMap((group) => group.holds.map((hold, index) => h("tr", {},
        index === 0 ? h("th", { scope: "rowgroup", rowspan: group.holds.length }, group.distributorId, h("div", { class: "muted small" }, `${group.units} units`)) : null,
        h("td", {}, hold.warehouse), h("td", { class: "mono" }, hold.sku), h("td", { class: "num" }, hold.quantity),
        h("td", { class: "num" }, money(hold.unitPrice, hold.currency)), h("td", { class: "mono small", title: hold.holdId }, hold.holdId.slice(0, 8)))))));
  const timeline = h("ol", { class: "timeline", "aria-label": "Timeline, oldest first", id: "timeline" },
    detail.timeline.map((entry) => h("li", { "data-kind": entry.kind, "data-to": entry.to ?? "" },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("div", { class: "when" }, utc(entry.at)),
      entry.kind === "Transition"
        ? h("div", { class: "what" }, badge(entry.from), h("span", { class: "arrow", "aria-label": "to" }, "→"), badge(entry.to),
          h("span", { class: "muted small" }, ` on ${entry.event}`))
        : h("div", { class: "what" }, `Operator action: ${ACTION_LABELS[entry.event]?.button ?? entry.event}`,
          h("span", { class: "muted small" }, ` by ${entry.actor}, while ${entry.from}`)),
      entry.detail ? h("p", { class: "detail" }, entry.kind === "OpsAction" ? `Reason: ${entry.detail}` : entry.detail) : null,
      entry.effect ? h("p", { class: "effect" }, entry.effect) : null)));
  const content = [
    message ?? h("div", { id: "action-message" }),
    h("div", { class: "grid-2" },
      h("section", { class: "panel", "aria-labelledby": "facts-title" }, h("header", {}, h("h2", { id: "facts-title" }, "Reservation")), h("div", { class: "panel-body" }, facts)),
      h("section", { class: "panel", "aria-labelledby": "timeline-title" }, h("header", {}, h("h2", { id: "timeline-title" }, "Timeline")),
        h("div", { class: "panel-body" }, detail.timeline.length ? timeline : h("p", { class: "empty" }, "No step yet.")))),
    h("section", { class: "panel", "aria-labelledby": "lines-title" }, h("header", {}, h("h2", { id: "lines-title" }, "Lines")), h("div", { class: "table-wrap" }, lines)),
    h("section", { class: "panel", "aria-labelledby": "holds-title" }, h("header", {}, h("h2", { id: "holds-title" }, "Holds per distributor")), h("div", { class: "table-wrap" }, holds)),
    h("section", { class: "panel", "aria-labelledby": "where-title" }, h("header", {}, h("h2", { id: "where-title" }, "Where it stands"),
      link("/ops/state-machine", "Whole state machine")), h("div", { class: "panel-body diagram", id: "saga-diagram" })),
  ];
  const focused = document.activeElement?.dataset?.action;
  page(`Reservation ${shortId(saga.id)}`, content, { aside: head, breadcrumb: crumbs, focus, badge: badge(saga.state, true) });
  if (focused) document.querySelector(`[data-action="${focused}"]`)?.focus();
  drawInto(document.getElementById("saga-diagram"), saga.state);
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

// ---------- Actions ----------

function openAction(id, action) {
  const dialog = document.getElementById("action-dialog");
  const form = document.getElementById("action-form");
  const reason = document.getElementById("action-reason");
  const error = document.getElementById("action-error");
  const submit = document.getElementById("action-submit");
  const labels = ACTION_LABELS[action.action] ?? { title: action.action, confirm: action.action, danger: false };
  document.getElementById("action-title").textContent = labels.title;
  document.getElementById("action-effect").textContent = action.effect;
  submit.textContent = labels.confirm;
  submit.className = labels.danger ? "button button-danger" : "button button-primary";
  document.getElementById("action-reason-note").textContent = "(required; kept in the ops audit, not shown to the buyer)";
  reason.maxLength = 500;
  reason.oninput = null;
  reason.value = "";
  error.hidden = true;
  reason.removeAttribute("aria-invalid");
  form.onsubmit = async (event) => {
    event.preventDefault();
    if (reason.value.trim() === "") {
      error.textContent = "Give a reason: it is kept with the action.";
      error.hidden = false;
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
      return;
    }
    submit.disabled = true;
    try {
      const accepted = await api(action.path.replace(/^\/v1\/ops/, ""), { method: "POST", body: { reason: reason.value.trim() } });
      dialog.close();
      showMessage(`${labels.confirm}: accepted. ${accepted.effect}`, "ok");
      const fresh = await loadSaga(id, false);
      if (fresh) renderSaga(fresh, false);
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  };
  document.getElementById("action-dismiss").onclick = () => dialog.close();
  dialog.showModal();
  reason.focus();
}

function showMessage(text, kind) {
  const container = document.getElementById("action-message");
  if (!container) return;
  container.replaceChildren(h("p", { class: `notice notice-${kind}`, role: "status" }, text));
  announce(text);
}

// ---------- Review desk ----------

// Compliance's queue of potential matches, read through ordering (/v1/review-desk) with the signed-in person's token:
// compliance decides what each role sees (the listed party and the score to officers only) and records the officer who
// rules. The page re-reads the queue when the live summary changes and every few seconds, never while a ruling is being
// written, and an officer's typed reason is kept per review until compliance has recorded it.
const REVIEW_DESK = "/v1/review-desk";
const PARTY_ROLES = { end_user: "End user", buyer: "Buyer", buyer_parent: "Buyer's parent" };
const RULINGS = {
  clear: {
    button: "Clear…", title: "Clear this potential match?", confirm: "Clear", danger: false,
    effect: "A false positive: compliance screens the reservation again with this resemblance set aside, and it goes on.",
  },
  confirm: {
    button: "Confirm match…", title: "Confirm this potential match?", confirm: "Confirm match", danger: true,
    effect: "The party is the listed one: compliance files a denial and the reservation is Rejected.",
  },
};

async function showReviews() {
  page("Review desk", [
    h("div", { id: "review-message" }),
    h("div", { id: "review-status" }),
    h("div", { id: "reviews" }, h("p", { class: "muted" }, "Loading…")),
  ], { head: h("p", { class: "muted" }, "Potential matches awaiting a compliance officer, oldest first. Each must be ruled on before it is due "
    + "(the earlier of the screening deadline and the cutoff); unattended, the reservation fails closed.") });
  await loadReviews();
  state.timer = setInterval(() => {
    if (!document.hidden) refreshReviewsQuietly();
  }, 5000);
}

let reviewsRefresh = null;
function refreshReviewsQuietly() {
  clearTimeout(reviewsRefresh);
  reviewsRefresh = setTimeout(() => {
    if (state.route?.name === "reviews" && !document.getElementById("action-dialog").open) loadReviews();
  }, 300);
}

async function loadReviews() {
  const container = document.getElementById("reviews");
  const status = document.getElementById("review-status");
  if (!container) return;
  let queue;
  try {
    queue = await api(REVIEW_DESK);
  } catch (error) {
    if (state.route?.name === "reviews") showReviewsUnavailable(error.message);
    return;
  }
  if (state.route?.name !== "reviews") return;
  if (queue.unavailable) {
    showReviewsUnavailable(queue.unavailable);
    return;
  }
  state.clockOffset = new Date(queue.at).getTime() - Date.now();
  const shown = JSON.stringify(state.reviews && { ...state.reviews, at: null });
  const fresh = JSON.stringify({ ...queue, at: null });
  state.reviews = queue;
  // An operator's count comes with the live summary; an officer has the queue itself.
  if (!isOperator()) showReviewCount(queue.reviews.filter((row) => !row.ended).length);
  status.replaceChildren(queue.mayRule ? "" : h("p", { class: "notice", "data-testid": "viewer-notice" },
    "You can watch the queue: only a compliance officer can clear or confirm a potential match, and only officers see the listed party and the score."));
  // Re-render only on change: a re-render would move the focus of an officer reading the queue with the keyboard.
  if (shown !== fresh || !container.querySelector("[data-decision], .empty")) renderReviews(queue);
}

// Keeps the last queue on screen, marked as not current, so a blip of compliance does not blank the desk.
function showReviewsUnavailable(message) {
  const container = document.getElementById("reviews");
  document.getElementById("review-status").replaceChildren(h("p", { class: "notice notice-error", role: "alert", "data-testid": "reviews-unavailable" },
    state.reviews ? `${message} Showing the queue as of ${new Date(state.reviews.at).toISOString()}.` : message));
  if (!state.reviews) container.replaceChildren();
  else if (!container.querySelector("[data-decision], .empty")) renderReviews(state.reviews);
}

function renderReviews(queue) {
  const container = document.getElementById("reviews");
  const focused = document.activeElement?.dataset?.ruling ? [document.activeElement.dataset.ruling, document.activeElement.closest("[data-decision]")?.dataset.decision] : null;
  container.replaceChildren(queue.reviews.length === 0
    ? h("section", { class: "panel" }, h("p", { class: "empty" }, "No potential match awaits review."))
    : h("div", {}, queue.reviews.map((row) => reviewCard(row, queue.mayRule))));
  if (focused) container.querySelector(`[data-decision="${focused[1]}"] [data-ruling="${focused[0]}"]`)?.focus();
}

function reviewCard(row, mayRule) {
  const review = row.review;
  const titleId = `review-${review.decisionId}`;
  const withheld = () => h("span", { class: "muted" }, "officers only");
  const matches = h("table", {},
    h("caption", { class: "sr-only" }, "Resemblances under review"),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Party"), h("th", { scope: "col" }, "Name screened"), h("th", { scope: "col" }, "Resembles (listed party)"),
      h("th", { scope: "col" }, "List"), h("th", { scope: "col", class: "num" }, "Score"))),
    h("tbody", {}, review.matches.map((match) => h("tr", { "data-role": match.role },
      h("td", { "data-testid": "party-role" }, PARTY_ROLES[match.role] ?? match.role),
      h("td", { "data-testid": "screened-name" }, match.queriedName, match.mixesScripts ? h("span", { class: "disguise", title: "The name mixes writing systems, a sign of disguise." }, "mixed scripts") : null),
      h("td", { "data-testid": "listed-party" }, match.entryName == null ? withheld()
        : [match.entryName, match.matchedName && match.matchedName !== match.entryName ? h("div", { class: "muted small" }, `as “${match.matchedName}”`) : null]),
      h("td", {}, match.list ?? withheld()),
      h("td", { class: "num" }, match.score == null ? withheld() : [
        h("span", { class: "score", "data-testid": "score" }, match.score.toFixed(2)),
        h("div", { class: "muted small" }, `review from ${match.reviewThreshold?.toFixed(2) ?? "—"}, match from ${match.threshold.toFixed(2)}`)])))));
  const dueLabel = !review.due ? "no deadline"
    : review.cutoff && review.due === review.cutoff ? "the cutoff" : "the screening deadline";
  const facts = h("dl", { class: "facts" },
    fact("Buyer", review.buyerId),
    fact("End user", review.endUser ? `${review.endUser.name} (${review.endUser.country})` : "—"),
    fact("Destination", review.destinationCountry ?? "—"),
    fact("SKUs", review.skus.join(", ")),
    fact("Filed", utc(review.filedAt)),
    fact("Screening deadline", utc(review.decideBy)),
    fact("Cutoff", review.cutoff ? utc(review.cutoff) : h("span", { class: "muted" }, "none")),
    fact("Decision", h("span", { class: "mono" }, review.decisionId)));
  const ended = row.ended;
  const buttons = ended
    ? h("p", { class: "notice notice-error", "data-testid": "too-late" }, `Too late: the reservation ended ${row.reservationState}; a ruling would change nothing.`)
    : mayRule
      ? h("div", { class: "actions", role: "group", "aria-label": "Ruling" },
        ["clear", "confirm"].map((ruling) => h("button", {
          type: "button",
          class: ruling === "confirm" ? "button button-danger" : "button button-primary",
          "data-ruling": ruling,
          onclick: () => openRuling(row, ruling),
        }, RULINGS[ruling].button)))
      : null;
  return h("section", { class: "panel review", "aria-labelledby": titleId, "data-decision": review.decisionId, "data-reservation": review.reservationId, "data-ended": String(ended) },
    h("header", {},
      h("div", { class: "review-title" },
        h("h2", { id: titleId }, "Reservation ", isOperator()
          ? link(`/ops/sagas/${review.reservationId}`, shortId(review.reservationId), { class: "mono", "aria-label": `Reservation ${review.reservationId}` })
          : h("span", { class: "mono", title: review.reservationId }, shortId(review.reservationId))),
        row.reservationState ? badge(row.reservationState) : null),
      h("p", { class: "review-due" },
        h("span", { class: "muted small" }, ended ? "Ended" : `Due (${dueLabel}) in`),
        ended ? h("span", { class: "muted" }, "—") : review.due ? countdown(review.due) : h("span", { class: "muted" }, "no deadline"))),
    h("div", { class: "panel-body" },
      h("div", { class: "table-wrap" }, matches),
      facts,
      buttons));
}

function openRuling(row, ruling) {
  const review = row.review;
  const labels = RULINGS[ruling];
  const dialog = document.getElementById("action-dialog");
  const form = document.getElementById("action-form");
  const reason = document.getElementById("action-reason");
  const error = document.getElementById("action-error");
  const submit = document.getElementById("action-submit");
  const draftKey = `${review.decisionId}:${ruling}`;
  document.getElementById("action-title").textContent = labels.title;
  document.getElementById("action-effect").textContent =
    `${labels.effect} Reservation ${review.reservationId}, ${review.matches.map((m) => `${PARTY_ROLES[m.role] ?? m.role} “${m.queriedName}”`).join(", ")}.`;
  document.getElementById("action-reason-note").textContent = "(required; kept by compliance with your ruling and your name, not shown to the buyer)";
  submit.textContent = labels.confirm;
  submit.className = labels.danger ? "button button-danger" : "button button-primary";
  reason.maxLength = 2000;
  // What the officer typed survives a refusal, closing the dialog and the queue's refreshes, until compliance records it.
  reason.value = state.drafts.get(draftKey) ?? "";
  reason.oninput = () => state.drafts.set(draftKey, reason.value);
  error.hidden = true;
  reason.removeAttribute("aria-invalid");
  form.onsubmit = async (event) => {
    event.preventDefault();
    if (reason.value.trim() === "") {
      error.textContent = "Give a reason: compliance keeps it with your ruling.";
      error.hidden = false;
      reason.setAttribute("aria-invalid", "true");
      reason.focus();
      return;
    }
    submit.disabled = true;
    error.hidden = true;
    reason.removeAttribute("aria-invalid");
    try {
      const recorded = await api(`${REVIEW_DESK}/${review.decisionId}/${ruling}`, {
        method: "POST",
        body: { reason: reason.value.trim(), reservationId: review.reservationId },
        forbidden: "Only a compliance officer can rule on a potential match.",
      });
      state.drafts.delete(draftKey);
      dialog.close();
      const text = `${recorded.ruling} by ${recorded.ruledBy}: compliance filed ${recorded.rulingOutcome} for reservation ${recorded.reservationId}.`;
      document.getElementById("review-message")?.replaceChildren(h("p", { class: "notice notice-ok", role: "status", "data-testid": "ruling-recorded" }, text));
      announce(text);
      await loadReviews();
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
      reason.focus();
    } finally {
      submit.disabled = false;
    }
  };
  document.getElementById("action-dismiss").onclick = () => {
    dialog.close();
    refreshReviewsQuietly();
  };
  dialog.showModal();
  reason.focus();
}

// ---------- State machine ----------

// The states in flight and ended, as the saga declares them (GET /v1/ops/states), read once per page load.
async function loadStates() {
  state.states ??= await api("/states");
  return state.states;
}

function isEnded(name) {
  return state.states?.ended.includes(name) ?? false;
}

async function loadGraph() {
  state.graph ??= await api("/state-machine");
  return state.graph;
}

async function showStateMachine() {
  const graph = await loadGraph();
  const table = h("table", {},
    h("caption", { class: "sr-only" }, "Transitions of the reservation saga"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "From"), h("th", { scope: "col" }, "To"), h("th", { scope: "col" }, "On"))),
    h("tbody", {}, graph.transitions.map((t) => h("tr", {}, h("td", {}, badge(t.from)), h("td", {}, badge(t.to)), h("td", { class: "mono small" }, t.events.join(", "))))));
  page("State machine", [
    h("section", { class: "panel", "aria-labelledby": "diagram-title" },
      h("header", {}, h("h2", { id: "diagram-title" }, "Reservation saga"),
        h("a", { href: `${API}/state-machine.mmd` }, "Mermaid source (.mmd)")),
      h("div", { class: "panel-body diagram", id: "diagram" })),
    h("div", { class: "grid-2" },
      h("section", { class: "panel", "aria-labelledby": "transitions-title" }, h("header", {}, h("h2", { id: "transitions-title" }, "Transitions")),
        h("div", { class: "table-wrap" }, table)),
      h("section", { class: "panel", "aria-labelledby": "mermaid-title" }, h("header", {}, h("h2", { id: "mermaid-title" }, "Mermaid")),
        h("div", { class: "panel-body" }, h("pre", { class: "source", tabindex: "0", "aria-label": "Mermaid source" }, graph.mermaid)))),
  ], { head: h("p", { class: "muted" }, "Generated from the state machine itself; the same text is checked in as docs/reservation-state-machine.md.") });
  drawInto(document.getElementById("diagram"), null);
}

async function drawInto(container, current) {
  if (!container) return;
  const graph = await loadGraph();
  if (!window.dagre) {
    container.replaceChildren(h("pre", { class: "source" }, graph.mermaid));
    return;
  }
  container.replaceChildren(drawDiagram(graph, current));
}

// A B-spline through dagre's edge points (as d3's curveBasis draws them): smooth, and it keeps to the route.
function basisPath(points) {
  let d = "";
  let x0, y0, x1, y1;
  let count = 0;
  const f = (n) => n.toFixed(1);
  const curve = (x, y) => {
    d += ` C ${f((2 * x0 + x1) / 3)} ${f((2 * y0 + y1) / 3)} ${f((x0 + 2 * x1) / 3)} ${f((y0 + 2 * y1) / 3)} ${f((x0 + 4 * x1 + x) / 6)} ${f((y0 + 4 * y1 + y) / 6)}`;
  };
  for (const { x, y } of points) {
    if (count === 0) d += `M ${f(x)} ${f(y)}`;
    else if (count === 2) d += ` L ${f((5 * x0 + x1) / 6)} ${f((5 * y0 + y1) / 6)}`;
    if (count >= 2) curve(x, y);
    count++;
    [x0, y0, x1, y1] = [x1, y1, x, y];
  }
  if (count >= 3) curve(x1, y1);
  if (count >= 2) d += ` L ${f(x1)} ${f(y1)}`;
  return d;
}

function measure(text, font) {
  measure.canvas ??= document.createElement("canvas");
  const context = measure.canvas.getContext("2d");
  context.font = font;
  return context.measureText(text).width;
}

function drawDiagram(graph, current) {
  const g = new window.dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 52, edgesep: 16, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const nodeFont = "600 13px system-ui, sans-serif";
  const edgeFont = "11px system-ui, sans-serif";
  g.setNode("[*]", { width: 16, height: 16, start: true });
  for (const st of graph.states) {
    g.setNode(st.name, { width: measure(st.name, nodeFont) + 32, height: 34, terminal: st.terminal });
  }
  g.setEdge("[*]", graph.states[0].name, { width: 0, height: 0 });
  // The way of a sale its buyer confirms (as the saga declares it), drawn as a straight spine; every other arrow branches off it.
  const spine = graph.spine;
  for (const t of graph.transitions) {
    const widest = Math.max(...t.events.map((e) => measure(e, edgeFont)));
    const onSpine = spine.indexOf(t.to) === spine.indexOf(t.from) + 1 && spine.includes(t.from);
    g.setEdge(t.from, t.to, { events: t.events, width: widest + 8, height: t.events.length * 14 + 4, labelpos: "c", weight: onSpine ? 8 : 1 });
  }
  window.dagre.layout(g);
  const { width, height } = g.graph();
  const svg = s("svg", { class: current ? "has-current" : null, viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`, width: Math.ceil(width), role: "img", "aria-labelledby": "diagram-svg-title" },
    s("title", { id: "diagram-svg-title" }, current
      ? `Reservation saga state diagram; this reservation is ${current}. The transitions are also listed as a table on the state machine page.`
      : "Reservation saga state diagram. The transitions are also listed in the table below."),
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z" }))));
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const points = edge.points;
    const group = s("g", { class: current && e.v === current ? "edge from-current" : "edge" }, s("path", { d: basisPath(points), "marker-end": "url(#arrow)" }));
    if (edge.events) {
      const top = edge.y - (edge.events.length * 14) / 2 + 11;
      group.append(s("rect", { class: "label-bg", x: edge.x - edge.width / 2, y: edge.y - edge.height / 2, width: edge.width, height: edge.height, rx: 3 }));
      edge.events.forEach((event, i) => group.append(s("text", { x: edge.x, y: top + i * 14, "text-anchor": "middle" }, event)));
    }
    svg.append(group);
  }
  for (const name of g.nodes()) {
    const node = g.node(name);
    if (node.start) {
      svg.append(s("circle", { class: "start", cx: node.x, cy: node.y, r: 7 }));
      continue;
    }
    const classes = ["node", node.terminal ? "terminal" : "", name === current ? "current" : ""].filter(Boolean).join(" ");
    const group = s("g", { class: classes, "data-state": name },
      s("rect", { x: node.x - node.width / 2, y: node.y - node.height / 2, width: node.width, height: node.height, rx: 17 }));
    if (node.terminal) {
      group.append(s("rect", { class: "inner", x: node.x - node.width / 2 + 3, y: node.y - node.height / 2 + 3, width: node.width - 6, height: node.height - 6, rx: 14 }));
    }
    group.append(s("text", { x: node.x, y: node.y + 4.5, "text-anchor": "middle" }, name));
    svg.append(group);
  }
  return svg;
}

// ---------- Start ----------

showWho();
connect();
navigate(location.pathname + location.search, false);
