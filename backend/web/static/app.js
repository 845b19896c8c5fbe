// Worktime web app: one small ES module, no dependencies. The pages are server-rendered shells; this
// module fills them from the JSON API, calling it with the session cookie and, for every
// state-changing request, the session's CSRF token in X-CSRF-Token. What a page offers follows
// GET /orgs/{org}/me/permissions; the API enforces the same rules whatever the page shows.

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

async function api(method, path, data) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") init.headers["X-CSRF-Token"] = CSRF;
  if (data !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(data);
  }
  const response = await fetch(`/api/v1${path}`, init);
  if (response.status === 401) {
    location.assign(`/auth/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError("Your session has ended; signing you in again.", 401, null);
  }
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const problem = payload || {};
    let message = problem.detail || problem.title || `The request failed (${response.status}).`;
    if (Array.isArray(problem.errors) && problem.errors.length) {
      message += " " + problem.errors.map((e) => e.message || e.msg || "").filter(Boolean).join(" ");
    }
    throw new ApiError(message, response.status, problem);
  }
  return payload;
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

function currentWeek() {
  const asked = new URLSearchParams(location.search).get("week");
  return asked && /^\d{4}-W\d{2}$/.test(asked) ? asked : isoWeek(new Date());
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

// --- home: organization switcher and invitations -----------------------------------------------------

async function homePage() {
  const [orgs, invitations] = await Promise.all([allPages("/orgs"), api("GET", "/me/invitations")]);
  const list = $("#orgs");
  list.replaceChildren();
  const active = orgs.filter((o) => o.membership_status === "active");
  if (!active.length) list.append(el("li", { class: "muted", text: "You are not a member of any organization yet." }));
  for (const org of active) {
    list.append(
      el(
        "li",
        { class: "card" },
        el("a", { href: `/orgs/${org.id}`, class: "card-link" }, el("strong", { text: org.name })),
        el("span", { class: "muted", text: ` ${org.my_role}${org.archived_at ? " · archived" : ""}` }),
      ),
    );
  }
  const pending = $("#invitations");
  pending.replaceChildren();
  $("#invitations-section").hidden = invitations.length === 0;
  for (const inv of invitations) {
    const accept = el("button", { type: "button", class: "primary", text: "Accept" });
    const decline = el("button", { type: "button", text: "Decline" });
    accept.addEventListener("click", () =>
      act(accept, async () => {
        await api("POST", `/orgs/${inv.org_id}/invitations/accept`);
        location.assign(`/orgs/${inv.org_id}`);
      }),
    );
    decline.addEventListener("click", () =>
      act(decline, async () => {
        await api("POST", `/orgs/${inv.org_id}/invitations/decline`);
        await homePage();
      }),
    );
    pending.append(
      el(
        "li",
        { class: "card" },
        el("strong", { text: inv.org_name }),
        el("span", { class: "muted", text: ` as ${inv.role}` }),
        el("div", { class: "row" }, accept, decline),
      ),
    );
  }
}

// --- timer ------------------------------------------------------------------------------------------

let tick = null;

async function timerPage(perms) {
  const projects = await trackableProjects(perms);
  const names = await projectNames();
  if (!projects.length) {
    denied("You have no project to track time on in this organization.");
    return;
  }
  const select = $("#project");
  select.replaceChildren(...projects.map((p) => el("option", { value: p.id, text: p.name })));

  async function refresh() {
    const { running } = await api("GET", `/orgs/${ORG}/timer`);
    clearInterval(tick);
    $("#running").hidden = !running;
    $("#start-form").hidden = Boolean(running);
    if (running) {
      $("#running-project").textContent = names.get(running.project_id) || "a project";
      $("#running-desc").textContent = running.description ? ` — ${running.description}` : "";
      const started = Date.parse(running.start_at);
      const show = () => ($("#clock").textContent = duration((Date.now() - started) / 1000));
      show();
      tick = setInterval(show, 1000);
      $("#stop").focus();
    }
    const today = new Date();
    const from = new Date(today.getFullYear(), today.getMonth(), today.getDate());
    const to = new Date(from.getTime() + 86400000);
    const entries = await allPages(
      `/orgs/${ORG}/time-entries?user_id=${ME}&from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`,
    );
    const rows = entries
      .sort((a, b) => a.start_at.localeCompare(b.start_at))
      .map((e) =>
        el(
          "tr",
          {},
          el("td", { text: names.get(e.project_id) || "—" }),
          el("td", { text: e.description || "" }),
          el("td", { text: timeOf(e.start_local) }),
          el("td", { text: e.running ? "running" : timeOf(e.end_local) }),
          el("td", { text: e.running ? "…" : duration(e.duration_seconds || 0) }),
        ),
      );
    $("#today tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5, class: "muted", text: "Nothing yet today." }))]));
  }

  $("#start-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#start"), async () => {
      const description = $("#description").value.trim();
      await api("POST", `/orgs/${ORG}/timer`, { project_id: select.value, description: description || null });
      $("#description").value = "";
      await refresh();
    });
  });
  $("#stop").addEventListener("click", () =>
    act($("#stop"), async () => {
      await api("POST", `/orgs/${ORG}/timer/stop`);
      await refresh();
      $("#description").focus();
    }),
  );
  await refresh();
}

// --- my timesheet -----------------------------------------------------------------------------------

async function timesheetPage(perms) {
  const names = await projectNames();
  const trackable = (await trackableProjects(perms)).filter((p) => names.has(p.id));
  $("#entry-project").replaceChildren(...trackable.map((p) => el("option", { value: p.id, text: p.name })));
  let week = currentWeek();
  let sheet = null;

  const editable = () => sheet && ["open", "rejected", "reopened"].includes(sheet.status) && !perms.readOnly;

  function resetForm() {
    $("#entry-id").value = "";
    $("#entry-h").textContent = "Add an entry";
    $("#entry-save").textContent = "Save entry";
    $("#entry-cancel").hidden = true;
    $("#entry-desc").value = "";
  }

  function render() {
    const days = weekDays(week);
    $("#sheet-status").textContent = sheet.status;
    $("#sheet-status").className = `badge ${sheet.status}`;
    const reason = $("#sheet-reason");
    reason.hidden = !sheet.reason;
    reason.textContent = sheet.reason ? `Sent back: ${sheet.reason}` : "";
    $("#submit-week").hidden = !(editable() && perms.has("timesheet:submit") && sheet.entries.length);
    $("#entry-panel").hidden = !(editable() && trackable.length);
    if (!$("#entry-day").value || !days.includes($("#entry-day").value)) $("#entry-day").value = days[0];

    // The grid: projects down, days across, hours in the cells.
    const totals = new Map();
    for (const e of sheet.entries) {
      const key = e.project_id;
      if (!totals.has(key)) totals.set(key, new Map());
      const day = dayOf(e.start_local);
      const seconds = e.running ? 0 : e.corrected_duration_seconds ?? e.duration_seconds ?? 0;
      totals.get(key).set(day, (totals.get(key).get(day) || 0) + seconds);
    }
    $("#week thead").replaceChildren(
      el("tr", {}, el("th", { scope: "col", text: "Project" }), ...days.map((d, i) => el("th", { scope: "col", text: `${DAYS[i]} ${d.slice(5)}` })), el("th", { scope: "col", text: "Total" })),
    );
    const rows = [...totals.entries()].map(([project, perDay]) => {
      const sum = [...perDay.values()].reduce((a, b) => a + b, 0);
      return el("tr", {}, el("th", { scope: "row", text: names.get(project) || "—" }), ...days.map((d) => el("td", { class: "num", text: perDay.get(d) ? hours(perDay.get(d)) : "" })), el("td", { class: "num", text: hours(sum) }));
    });
    $("#week tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 9, class: "muted", text: "No time logged this week." }))]));
    const dayTotal = (d) => [...totals.values()].reduce((a, m) => a + (m.get(d) || 0), 0);
    $("#week tfoot").replaceChildren(el("tr", {}, el("th", { scope: "row", text: "Total" }), ...days.map((d) => el("td", { class: "num", text: hours(dayTotal(d)) })), el("td", { class: "num", text: hours(sheet.total_seconds) })));

    const list = sheet.entries
      .slice()
      .sort((a, b) => a.start_at.localeCompare(b.start_at))
      .map((e) => {
        const locked = e.locked || !editable() || e.running;
        const actions = el("td", { class: "actions" });
        if (locked) actions.append(el("span", { class: "muted", text: e.locked ? "locked" : e.running ? "running" : "read-only" }));
        else {
          const edit = el("button", { type: "button", text: "Edit", "aria-label": `Edit entry ${e.description || ""} on ${dayOf(e.start_local)}` });
          const del = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete entry ${e.description || ""} on ${dayOf(e.start_local)}` });
          edit.addEventListener("click", () => {
            $("#entry-id").value = e.id;
            $("#entry-project").value = e.project_id;
            $("#entry-day").value = dayOf(e.start_local);
            $("#entry-from").value = timeOf(e.start_local);
            $("#entry-to").value = timeOf(e.end_local);
            $("#entry-desc").value = e.description || "";
            $("#entry-h").textContent = "Edit the entry";
            $("#entry-save").textContent = "Save changes";
            $("#entry-cancel").hidden = false;
            $("#entry-project").focus();
          });
          del.addEventListener("click", () =>
            act(del, async () => {
              await api("DELETE", `/orgs/${ORG}/time-entries/${e.id}`);
              await load();
            }),
          );
          actions.append(edit, " ", del);
        }
        return el(
          "tr",
          {},
          el("td", { text: dayOf(e.start_local) }),
          el("td", { text: names.get(e.project_id) || "—" }),
          el("td", { text: e.description || "" }),
          el("td", { text: `${timeOf(e.start_local)}–${e.running ? "…" : timeOf(e.end_local)}` }),
          el("td", { class: "num", text: e.running ? "running" : duration(e.duration_seconds || 0) }),
          actions,
        );
      });
    $("#entries tbody").replaceChildren(...(list.length ? list : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No entries." }))]));
  }

  async function load(next = week) {
    week = next;
    weekNav(week, load);
    sheet = await api("GET", `/orgs/${ORG}/timesheets?week=${week}`);
    render();
  }

  $("#entry-cancel").addEventListener("click", resetForm);
  $("#entry-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#entry-save"), async () => {
      const day = $("#entry-day").value;
      const start = new Date(`${day}T${$("#entry-from").value}`);
      const end = new Date(`${day}T${$("#entry-to").value}`);
      if (!(end > start)) throw new Error("The end time must be after the start time.");
      const data = {
        project_id: $("#entry-project").value,
        description: $("#entry-desc").value.trim() || null,
        start_at: start.toISOString(),
        end_at: end.toISOString(),
      };
      const id = $("#entry-id").value;
      if (id) await api("PATCH", `/orgs/${ORG}/time-entries/${id}`, data);
      else await api("POST", `/orgs/${ORG}/time-entries`, data);
      resetForm();
      await load();
      showInfo("Saved.");
    });
  });
  $("#submit-week").addEventListener("click", () =>
    act($("#submit-week"), async () => {
      await api("POST", `/orgs/${ORG}/timesheets/submit`, { week });
      await load();
      showInfo("Your week was submitted for approval.");
    }),
  );
  await load();
}

// --- team dashboard ---------------------------------------------------------------------------------

function barChart(container, rows) {
  const NS = "http://www.w3.org/2000/svg";
  const max = Math.max(1, ...rows.map((r) => r.value));
  const rowHeight = 28;
  const width = 600;
  const labelWidth = 160;
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${rows.length * rowHeight + 8}`);
  svg.setAttribute("class", "bars");
  svg.setAttribute("aria-hidden", "true");
  rows.forEach((row, i) => {
    const y = i * rowHeight + 4;
    const label = document.createElementNS(NS, "text");
    label.setAttribute("x", "0");
    label.setAttribute("y", String(y + 17));
    label.textContent = row.label;
    const bar = document.createElementNS(NS, "rect");
    bar.setAttribute("x", String(labelWidth));
    bar.setAttribute("y", String(y + 4));
    bar.setAttribute("height", "18");
    bar.setAttribute("width", String(Math.max(1, ((width - labelWidth - 70) * row.value) / max)));
    bar.setAttribute("rx", "3");
    const value = document.createElementNS(NS, "text");
    value.setAttribute("x", String(labelWidth + ((width - labelWidth - 70) * row.value) / max + 6));
    value.setAttribute("y", String(y + 17));
    value.textContent = `${row.value.toFixed(1)} h`;
    svg.append(label, bar, value);
  });
  container.replaceChildren(svg);
}

async function teamPage(perms) {
  if (!perms.has("team_time:read") && !perms.has("timesheet:approve")) {
    denied("The team dashboard is for managers, project leads, admins and auditors.");
    return;
  }
  const members = perms.has("member:list") ? await allPages(`/orgs/${ORG}/members`) : [];
  const who = new Map(members.map((m) => [m.user_id, m.display_name || m.email || m.user_id.slice(0, 8)]));
  const nameOf = (id) => who.get(id) || (id === ME ? "you" : id.slice(0, 8));
  const names = await projectNames();
  let week = currentWeek();

  async function load(next = week) {
    week = next;
    weekNav(week, load);
    const days = weekDays(week);
    const from = new Date(`${days[0]}T00:00:00`);
    const to = new Date(from.getTime() + 7 * 86400000);
    const entries = await allPages(
      `/orgs/${ORG}/time-entries?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`,
    );
    const perUser = new Map();
    for (const e of entries) {
      if (!perUser.has(e.user_id)) perUser.set(e.user_id, new Map());
      const day = dayOf(e.start_local);
      const seconds = e.running ? (Date.now() - Date.parse(e.start_at)) / 1000 : e.corrected_duration_seconds ?? e.duration_seconds ?? 0;
      perUser.get(e.user_id).set(day, (perUser.get(e.user_id).get(day) || 0) + seconds);
    }
    const users = [...perUser.keys()].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
    const total = (u) => [...perUser.get(u).values()].reduce((a, b) => a + b, 0);
    barChart($("#chart"), users.map((u) => ({ label: nameOf(u), value: total(u) / 3600 })));
    $("#hours thead").replaceChildren(el("tr", {}, el("th", { scope: "col", text: "Member" }), ...days.map((d, i) => el("th", { scope: "col", text: `${DAYS[i]} ${d.slice(5)}` })), el("th", { scope: "col", text: "Total" })));
    const rows = users.map((u) => el("tr", {}, el("th", { scope: "row", text: nameOf(u) }), ...days.map((d) => el("td", { class: "num", text: perUser.get(u).get(d) ? hours(perUser.get(u).get(d)) : "" })), el("td", { class: "num", text: hours(total(u)) })));
    $("#hours tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 9, class: "muted", text: "No time logged this week." }))]));

    const running = await allPages(`/orgs/${ORG}/time-entries?running=true`);
    $("#running-now").replaceChildren(
      ...(running.length
        ? running.map((e) => el("li", {}, el("strong", { text: nameOf(e.user_id) }), ` on ${names.get(e.project_id) || "a project"} since ${timeOf(e.start_local)}${e.description ? ` — ${e.description}` : ""}`))
        : [el("li", { class: "muted", text: "Nobody is running a timer." })]),
    );

    $("#approvals").hidden = !perms.has("timesheet:approve");
    if (perms.has("timesheet:approve")) {
      const queue = await allPages(`/orgs/${ORG}/timesheets/queue?status=submitted`);
      const qrows = queue.map((sheet) => {
        const approve = el("button", { type: "button", class: "primary", text: "Approve", "aria-label": `Approve ${nameOf(sheet.user_id)}'s week ${sheet.week}` });
        const reasonInput = el("input", { "aria-label": `Reason for sending back ${nameOf(sheet.user_id)}'s week`, placeholder: "Reason to send back", maxlength: "2000" });
        const reject = el("button", { type: "button", class: "danger", text: "Reject", "aria-label": `Reject ${nameOf(sheet.user_id)}'s week ${sheet.week}` });
        const own = sheet.user_id === ME;
        approve.disabled = own;
        reject.disabled = own;
        approve.addEventListener("click", () =>
          act(approve, async () => {
            await api("POST", `/orgs/${ORG}/timesheets/${sheet.id}/approve`);
            await load();
            showInfo(`Approved ${nameOf(sheet.user_id)}'s week ${sheet.week}.`);
          }),
        );
        reject.addEventListener("click", () =>
          act(reject, async () => {
            const reason = reasonInput.value.trim();
            if (!reason) throw new Error("Give a reason when sending a week back.");
            await api("POST", `/orgs/${ORG}/timesheets/${sheet.id}/reject`, { reason });
            await load();
            showInfo(`Sent ${nameOf(sheet.user_id)}'s week ${sheet.week} back.`);
          }),
        );
        return el(
          "tr",
          { "data-user": sheet.user_id },
          el("td", { text: nameOf(sheet.user_id) }),
          el("td", {}, el("a", { href: `/orgs/${ORG}/team?week=${sheet.week}`, text: sheet.week })),
          el("td", { text: sheet.submitted_at ? new Date(sheet.submitted_at).toLocaleString() : "" }),
          el("td", { class: "actions" }, own ? el("span", { class: "muted", text: "yours: someone else approves " }) : "", approve, " ", reasonInput, " ", reject),
        );
      });
      $("#queue tbody").replaceChildren(...(qrows.length ? qrows : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: "Nothing waiting." }))]));
    }
  }
  await load();
}

// --- members admin ----------------------------------------------------------------------------------

async function membersPage(perms) {
  if (!perms.has("member:list")) {
    denied("You cannot see this organization's members.");
    return;
  }
  const ranks = perms.data.role_ranks;
  const mine = ranks[perms.role];
  const roles = Object.keys(ranks).sort((a, b) => ranks[b] - ranks[a]);
  const roleOptions = (selected) =>
    roles.map((r) => el("option", { value: r, text: ranks[r] > mine ? `${r} (above your role)` : r, disabled: ranks[r] > mine, selected: r === selected }));
  const writable = !perms.readOnly;
  $("#invite-panel").hidden = !(writable && perms.has("member:invite"));
  $("#invite-role").replaceChildren(...roleOptions("member"));
  $("#rank-note").textContent = `As ${perms.role} you may grant, change or remove roles up to your own rank; higher roles are shown but disabled.`;

  async function load() {
    const members = await allPages(`/orgs/${ORG}/members`);
    const rows = members.map((m) => {
      const reachable = ranks[m.role] <= mine;
      const label = m.display_name || m.email || m.user_id;
      let roleCell = el("span", { text: m.role });
      if (writable && perms.has("member:update") && reachable && m.user_id !== ME) {
        const select = el("select", { "aria-label": `Role of ${label}` }, ...roleOptions(m.role));
        select.addEventListener("change", () =>
          act(select, async () => {
            try {
              await api("PATCH", `/orgs/${ORG}/members/${m.user_id}`, { role: select.value });
              showInfo(`${label} is now ${select.value}.`);
            } finally {
              await load();
            }
          }),
        );
        roleCell = select;
      }
      const actions = el("td", { class: "actions" });
      if (writable && perms.has("member:remove") && reachable && m.user_id !== ME) {
        const remove = el("button", { type: "button", class: "danger", text: "Remove", "aria-label": `Remove ${label}` });
        remove.addEventListener("click", () =>
          act(remove, async () => {
            if (remove.dataset.confirm !== "yes") {
              remove.dataset.confirm = "yes";
              remove.textContent = "Really remove?";
              return;
            }
            await api("DELETE", `/orgs/${ORG}/members/${m.user_id}`);
            await load();
            showInfo(`${label} was removed.`);
          }),
        );
        actions.append(remove);
      }
      return el("tr", {}, el("td", { text: m.display_name || "—" }), el("td", { text: m.email || "—" }), el("td", { text: m.status }), el("td", {}, roleCell), actions);
    });
    $("#members tbody").replaceChildren(...rows);
  }

  $("#invite-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act(event.submitter, async () => {
      const email = $("#invite-email").value.trim();
      await api("POST", `/orgs/${ORG}/members/invitations`, { email, role: $("#invite-role").value });
      $("#invite-email").value = "";
      await load();
      showInfo(`Invited ${email}.`);
    });
  });
  await load();
}

// --- audit trail ------------------------------------------------------------------------------------

async function auditPage(perms) {
  if (!perms.has("audit:read")) {
    denied("The audit trail is for owners, admins and auditors.");
    return;
  }
  const query = new URLSearchParams(location.search);
  const LIMIT = Math.min(200, Math.max(1, Number(query.get("limit")) || 25));
  let offset = Math.max(0, Number(query.get("offset")) || 0);
  const members = perms.has("member:list") ? await allPages(`/orgs/${ORG}/members`) : [];
  const who = new Map(members.map((m) => [m.user_id, m.display_name || m.email]));

  async function load() {
    const page = await api("GET", `/orgs/${ORG}/audit-events?limit=${LIMIT}&offset=${offset}`);
    const rows = page.items.map((e) =>
      el(
        "tr",
        {},
        el("td", { class: "num", text: String(e.seq) }),
        el("td", { text: new Date(e.occurred_at).toLocaleString() }),
        el("td", { text: e.actor_user_id ? who.get(e.actor_user_id) || e.actor_user_id.slice(0, 8) : e.actor_client_id || "system" }),
        el("td", {}, el("code", { text: e.action })),
        el("td", { text: `${e.resource_type} ${e.resource_id.slice(0, 8)}` }),
        el("td", {}, el("code", { class: "changes", text: e.changes ? JSON.stringify(e.changes) : "" })),
      ),
    );
    $("#audit tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No events." }))]));
    const last = Math.min(page.total, offset + page.items.length);
    $("#page-info").textContent = page.total ? `${offset + 1} to ${last} of ${page.total}` : "";
    $("#newer").disabled = offset === 0;
    $("#older").disabled = last >= page.total;
    const state = new URLSearchParams();
    if (LIMIT !== 25) state.set("limit", String(LIMIT));
    if (offset) state.set("offset", String(offset));
    history.replaceState(null, "", state.size ? `?${state}` : location.pathname);
  }
  $("#newer").addEventListener("click", () => act($("#newer"), async () => {
    offset = Math.max(0, offset - LIMIT);
    await load();
  }));
  $("#older").addEventListener("click", () => act($("#older"), async () => {
    offset += LIMIT;
    await load();
  }));
  await load();
}

// --- start ------------------------------------------------------------------------------------------

const PAGES = { timer: timerPage, timesheet: timesheetPage, team: teamPage, members: membersPage, audit: auditPage };

async function main() {
  try {
    if (body.dataset.page === "home") {
      await homePage();
    } else {
      const perms = await loadOrgChrome();
      await PAGES[body.dataset.page](perms);
    }
    body.dataset.ready = "true";
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(error);
    body.dataset.ready = "error";
  }
}

main();
