// Shared by the pages: the API client (session cookie + CSRF header, problem+json errors), DOM
// helpers, weeks and time zones, and the caller's permissions (GET /orgs/{org}/me/permissions).

const body = document.body;
const ORG = body.dataset.org;
const ME = body.dataset.user;
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const $ = (selector, root = document) => root.querySelector(selector);

// --- API --------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(message, status, problem) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

// One request to the JSON API: JSON `data` or a FormData `form`, extra `headers` (If-Match); answers
// { payload, response }. A 401 sends the browser to sign in again; an error becomes an ApiError whose
// message is the problem+json `detail` (plus the per-field messages, if any).
async function request(method, path, { data, form, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (method !== "GET") init.headers["X-CSRF-Token"] = CSRF;
  if (data !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(data);
  } else if (form !== undefined) init.body = form;
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 401) {
    location.assign(`/auth/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError("Your session has ended; signing you in again.", 401, null);
  }
  if (response.status === 204) return { payload: null, response };
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const problem = payload || {};
    let message = problem.detail || problem.title || `The request failed (${response.status}).`;
    if (Array.isArray(problem.errors) && problem.errors.length) {
      message += " " + problem.errors.map((e) => e.message || e.msg || "").filter(Boolean).join(" ");
    }
    throw new ApiError(message, response.status, problem);
  }
  return { payload, response };
}

async function api(method, path, data) {
  return (await request(method, path, { data })).payload;
}

async function allPages(path, limit = 200) {
  const items = [];
  for (let offset = 0; ; offset += limit) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", `${path}${sep}limit=${limit}&offset=${offset}`);
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0 || offset > 5000) return items;
  }
}

// --- small DOM helpers --------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function showError(error) {
  const box = $("#alert");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.className = "alert";
  box.hidden = false;
}

function showInfo(message) {
  const box = $("#alert");
  box.textContent = message;
  box.className = "alert info";
  box.hidden = false;
}

function clearAlert() {
  $("#alert").hidden = true;
}

// Run a button's action with the button disabled; errors go to the alert box in plain words.
async function act(button, action) {
  clearAlert();
  if (button) button.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    if (button) button.disabled = false;
  }
}

const pad = (n) => String(n).padStart(2, "0");
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}
const hours = (seconds) => (seconds / 3600).toFixed(2);
const timeOf = (iso) => (iso ? iso.slice(11, 16) : "—");
const dayOf = (iso) => iso.slice(0, 10);
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function isoWeek(date) {
  const d = new Date(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const year = d.getUTCFullYear();
  const week = Math.ceil(((d - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return `${year}-W${pad(week)}`;
}

function weekMonday(week) {
  const [year, w] = week.split("-W").map(Number);
  const jan4 = new Date(Date.UTC(year, 0, 4));
  const monday = new Date(jan4);
  monday.setUTCDate(jan4.getUTCDate() - ((jan4.getUTCDay() || 7) - 1) + (w - 1) * 7);
  return monday;
}

function shiftWeek(week, delta) {
  const monday = weekMonday(week);
  monday.setUTCDate(monday.getUTCDate() + 7 * delta + 3);
  return isoWeek(new Date(monday.getUTCFullYear(), monday.getUTCMonth(), monday.getUTCDate()));
}

function weekDays(week) {
  const monday = weekMonday(week);
  return DAYS.map((_, i) => {
    const d = new Date(monday);
    d.setUTCDate(monday.getUTCDate() + i);
    return d.toISOString().slice(0, 10);
  });
}

// The week in the address bar, else this week in the given zone (the browser's when none is given).
function currentWeek(zone) {
  const asked = new URLSearchParams(location.search).get("week");
  if (asked && /^\d{4}-W\d{2}$/.test(asked)) return asked;
  return zone ? isoWeekOfDay(dayIn(new Date(), zone)) : isoWeek(new Date());
}

function weekNav(week, reload) {
  $("#week-label").textContent = `Week ${week.split("-W")[1]}, ${week.split("-W")[0]}`;
  const go = (delta) => {
    const next = shiftWeek(week, delta);
    history.replaceState(null, "", `?week=${next}`);
    reload(next);
  };
  $("#prev-week").onclick = () => go(-1);
  $("#next-week").onclick = () => go(1);
}

// A list's pager (a <nav> with [data-prev], [data-info] and [data-next]): `draw(offset, limit)` shows one
// page of the API's list and returns it ({ items, total }); the pager says where it is and hides itself
// when everything fits on one page. `reload(true)` goes back to the first page (new filters).
function pager(nav, limit, draw) {
  let offset = 0;
  const prev = nav.querySelector("[data-prev]");
  const next = nav.querySelector("[data-next]");
  const info = nav.querySelector("[data-info]");
  async function go(to) {
    offset = Math.max(0, to);
    let page = await draw(offset, limit);
    if (!page.items.length && offset > 0) {
      offset = Math.max(0, Math.floor((page.total - 1) / limit) * limit); // the last item went away
      page = await draw(offset, limit);
    }
    const last = Math.min(page.total, offset + page.items.length);
    info.textContent = page.total ? `${offset + 1} to ${last} of ${page.total}` : "";
    prev.disabled = offset === 0;
    next.disabled = last >= page.total;
    nav.hidden = offset === 0 && page.total <= limit;
  }
  prev.addEventListener("click", () => act(prev, () => go(offset - limit)));
  next.addEventListener("click", () => act(next, () => go(offset + limit)));
  return { reload: (first = false) => go(first ? 0 : offset) };
}

// A button that asks once more in place ("Really archive?", spoken with its `subject`: "Really archive?
// Initech") before it acts: no dialog, keyboard friendly; moving away from the button takes it back.
function confirmTwice(button, question, subject, action) {
  const { textContent: text } = button;
  const name = button.getAttribute("aria-label");
  button.addEventListener("click", () => {
    if (button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      button.textContent = question;
      button.setAttribute("aria-label", `${question} ${subject}`);
      return;
    }
    act(button, action);
  });
  button.addEventListener("blur", () => {
    if (button.dataset.confirm !== "yes") return;
    delete button.dataset.confirm;
    button.textContent = text;
    if (name) button.setAttribute("aria-label", name);
    else button.removeAttribute("aria-label");
  });
}

// --- permissions ------------------------------------------------------------------------------------

class Permissions {
  constructor(data) {
    this.data = data;
    this.org = new Set(data.permissions);
    this.defaults = new Set(data.project_defaults);
    this.byProject = new Map(data.projects.map((p) => [p.project_id, new Set(p.permissions)]));
  }
  get role() {
    return this.data.role;
  }
  // Organization-wide, on every project, or on at least one project.
  has(permission) {
    if (this.org.has(permission) || this.defaults.has(permission)) return true;
    for (const set of this.byProject.values()) if (set.has(permission)) return true;
    return false;
  }
  onProject(projectId, permission) {
    return this.defaults.has(permission) || Boolean(this.byProject.get(projectId)?.has(permission));
  }
  get readOnly() {
    return this.data.read_only;
  }
}

async function loadOrgChrome() {
  const [perms, org] = await Promise.all([
    api("GET", `/orgs/${ORG}/me/permissions`).then((d) => new Permissions(d)),
    api("GET", `/orgs/${ORG}`),
  ]);
  for (const link of document.querySelectorAll("nav.pages a[data-needs]")) {
    link.hidden = !link.dataset.needs.split(" ").some((p) => perms.has(p));
  }
  const switcher = $("#org-name");
  switcher.textContent = `${org.name} (${perms.role}) · switch`;
  if (perms.readOnly) {
    $("#readonly").textContent = perms.readOnly;
    $("#readonly").hidden = false;
  }
  return perms;
}

function denied(message) {
  const main = $("#main");
  for (const node of [...main.children]) if (node.tagName !== "H1" && node.id !== "alert") node.hidden = true;
  main.append(el("p", { class: "note", text: message }));
}

// Projects the caller may log time on.
async function trackableProjects(perms) {
  const projects = await allPages(`/orgs/${ORG}/projects`);
  return projects.filter((p) => !p.archived_at && perms.onProject(p.id, "time_entry:create"));
}

async function projectNames() {
  const projects = await allPages(`/orgs/${ORG}/projects`);
  return new Map(projects.map((p) => [p.id, p.name]));
}

// --- time zones: days and weeks are cut in the person's stored zone, not the browser's ----------------

function zoneParts(instant, zone) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(instant);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { year: get("year"), month: get("month"), day: get("day"), hour: get("hour"), minute: get("minute"), second: get("second") };
}

// The day (YYYY-MM-DD) an instant falls on in a zone.
function dayIn(instant, zone) {
  const p = zoneParts(instant, zone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

// A wall-clock time on a day in a zone as a UTC instant (ISO string); DST gaps resolve forwards.
function zonedInstant(day, time, zone) {
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  let guess = wall;
  for (let i = 0; i < 3; i++) {
    const p = zoneParts(new Date(guess), zone);
    const seen = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    guess += wall - seen;
  }
  return new Date(guess).toISOString();
}

function isoWeekOfDay(day) {
  const [y, m, d] = day.split("-").map(Number);
  return isoWeek(new Date(y, m - 1, d));
}

export {
  body, ORG, ME, CSRF, $, ApiError, request, api, allPages, el, showError, showInfo, clearAlert, act, pad, duration, hours,
  timeOf, dayOf, DAYS, isoWeek, weekMonday, shiftWeek, weekDays, currentWeek, weekNav, Permissions, loadOrgChrome,
  denied, trackableProjects, projectNames, dayIn, zonedInstant, isoWeekOfDay, pager, confirmTwice,
};
