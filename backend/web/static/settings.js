// Organization settings: time tracking rules (currency, default rate, limits, overlaps, rounding), the
// period lock, rates, working-time contracts and holiday calendars, your personal API tokens, and importing a Toggl or Clockify CSV (dry run first,
// then for real, with its per-row problems). Each section shows only what /me/permissions allows.

import { ORG, $, api, allPages, el, showInfo, act, DAYS, dayIn, zonedInstant } from "./lib.js";

const POLL_MS = 500;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const writable = (perms, permission) => perms.has(permission) && !perms.readOnly;

export async function settingsPage(perms) {
  const board = await api("GET", `/orgs/${ORG}/dashboard`);
  const zone = board.time_zone;
  const sections = [];
  if (perms.has("time_settings:read")) sections.push(timeSettings(perms));
  if (perms.has("time_lock:read")) sections.push(periodLock(perms, zone));
  if (perms.has("rate:list")) sections.push(rates(perms));
  // Organization-wide readers only (admins, owners, auditors): a lead reads contracts of their team elsewhere.
  if (perms.org.has("team_worktime:read") || perms.defaults.has("team_worktime:read")) sections.push(worktime(perms));
  if (perms.has("personal_token:list")) sections.push(tokens(perms, zone));
  if (perms.has("time_import:read")) sections.push(imports(perms));
  await Promise.all(sections);
}

// --- time tracking rules ---------------------------------------------------------------------------

async function timeSettings(perms) {
  $("#time-panel").hidden = false;
  const editable = writable(perms, "time_settings:update");
  const days = $("#t-round-days");
  days.replaceChildren(
    ...DAYS.map((name, i) => el("label", { class: "check" }, el("input", { type: "checkbox", value: String(i + 1), "data-day": "" }), ` ${name}`)),
  );

  function fill(s) {
    $("#t-currency").value = s.currency;
    $("#t-rate").value = s.default_rate ?? "";
    $("#t-max-hours").value = String(s.max_duration_minutes / 60);
    $("#t-future").value = String(s.max_future_minutes);
    $("#t-overlaps").checked = s.prevent_overlaps;
    $("#t-round-mode").value = s.rounding.mode;
    $("#t-round-minutes").value = String(s.rounding.minutes);
    for (const box of days.querySelectorAll("input")) box.checked = s.rounding.weekdays.includes(Number(box.value));
  }
  fill(await api("GET", `/orgs/${ORG}/time-settings`));
  for (const control of $("#time-form").elements) control.disabled = !editable;
  $("#time-save").hidden = !editable;

  $("#time-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#time-save"), async () => {
      const rate = $("#t-rate").value.trim();
      const weekdays = [...days.querySelectorAll("input:checked")].map((b) => Number(b.value));
      if (!weekdays.length) throw new Error("Choose at least one weekday for the rounding rule.");
      const saved = await api("PATCH", `/orgs/${ORG}/time-settings`, {
        currency: $("#t-currency").value.trim().toUpperCase(),
        // Clearing the default rate is not a PATCH here: an empty field leaves it as it is.
        ...(rate ? { default_rate: rate } : {}),
        max_duration_minutes: Math.round(Number($("#t-max-hours").value) * 60),
        max_future_minutes: Number($("#t-future").value),
        prevent_overlaps: $("#t-overlaps").checked,
        rounding: { mode: $("#t-round-mode").value, minutes: Number($("#t-round-minutes").value) || 1, weekdays },
      });
      fill(saved);
      showInfo("Saved the time settings.");
    });
  });
}

// --- period lock ----------------------------------------------------------------------------------

async function periodLock(perms, zone) {
  $("#lock-panel").hidden = false;
  const editable = writable(perms, "time_lock:update");
  $("#lock-form").hidden = !editable;
  $("#lock-clear").hidden = !writable(perms, "time_lock:rewind");

  function show(lock) {
    $("#lock-state").textContent = lock.locked_until
      ? `Entries that start before ${dayIn(new Date(lock.locked_until), zone)} (${zone}) are locked.`
      : "Nothing is locked.";
    if (lock.locked_until) $("#lock-date").value = dayIn(new Date(lock.locked_until), zone);
  }
  show(await api("GET", `/orgs/${ORG}/time-lock`));

  async function put(lockedUntil, message) {
    show(await api("PUT", `/orgs/${ORG}/time-lock`, { locked_until: lockedUntil }));
    showInfo(message);
  }
  $("#lock-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const day = $("#lock-date").value;
    act($("#lock-save"), () => put(zonedInstant(day, "00:00", zone), `Locked everything before ${day}.`));
  });
  $("#lock-clear").addEventListener("click", () =>
    act($("#lock-clear"), async () => {
      if (confirm("Remove the period lock? Every entry becomes editable again.")) await put(null, "Removed the period lock.");
    }),
  );
}

// --- rates ----------------------------------------------------------------------------------------

async function rates(perms) {
  $("#rates-panel").hidden = false;
  const editable = writable(perms, "rate:manage");
  const [members, projects] = await Promise.all([
    perms.has("member:list") ? allPages(`/orgs/${ORG}/members`) : Promise.resolve([]),
    allPages(`/orgs/${ORG}/projects`),
  ]);
  const person = new Map(members.map((m) => [m.user_id, m.display_name || m.email]));
  const project = new Map(projects.map((p) => [p.id, p.name]));
  $("#rate-form").hidden = !editable;
  $("#rate-user").replaceChildren(el("option", { value: "", text: "Everyone" }), ...members.map((m) => el("option", { value: m.user_id, text: person.get(m.user_id) })));
  $("#rate-project").replaceChildren(el("option", { value: "", text: "Every project" }), ...projects.map((p) => el("option", { value: p.id, text: p.name })));

  async function load() {
    const list = await api("GET", `/orgs/${ORG}/rates`);
    const rows = list.map((r) => {
      const who = r.user_id ? person.get(r.user_id) || r.user_id : "Everyone";
      const where = r.project_id ? project.get(r.project_id) || "an archived project" : "Every project";
      const remove = el("button", { type: "button", class: "danger", text: "Remove", "aria-label": `Remove the rate of ${who} on ${where}` });
      remove.addEventListener("click", () =>
        act(remove, async () => {
          await api("PUT", `/orgs/${ORG}/rates`, { user_id: r.user_id, project_id: r.project_id, amount: null });
          await load();
          showInfo(`Removed the rate of ${who} on ${where}.`);
        }),
      );
      return el("tr", {}, el("td", { text: who }), el("td", { text: where }), el("td", { class: "num", text: `${r.amount} ${r.currency}` }), el("td", { class: "actions" }, editable ? remove : ""));
    });
    $("#rates tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No rates yet: entries use the default rate." }))]));
  }
  await load();

  $("#rate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#rate-save"), async () => {
      const user_id = $("#rate-user").value || null;
      const project_id = $("#rate-project").value || null;
      if (!user_id && !project_id) throw new Error("Choose a member, a project or both (the default rate is under Time tracking).");
      await api("PUT", `/orgs/${ORG}/rates`, { user_id, project_id, amount: $("#rate-amount").value });
      await load();
      showInfo("Saved the rate.");
    });
  });
}

// --- working time: contracts and holiday calendars -------------------------------------------------

async function worktime(perms) {
  $("#worktime-panel").hidden = false;
  const editContracts = writable(perms, "contract:manage");
  const editCalendars = writable(perms, "holiday_calendar:manage");
  const members = perms.has("member:list") ? await allPages(`/orgs/${ORG}/members`) : [];
  const person = new Map(members.map((m) => [m.user_id, m.display_name || m.email]));
  $("#contract-form").hidden = !editContracts;
  $("#calendar-forms").hidden = !editCalendars;
  $("#ct-user").replaceChildren(...members.map((m) => el("option", { value: m.user_id, text: person.get(m.user_id) })));
  $("#ct-days").replaceChildren(
    el("legend", { text: "Hours per weekday" }),
    ...DAYS.map((d, i) => el("label", { class: "short" }, d, el("input", { type: "number", id: `ct-day-${i}`, min: "0", max: "24", step: "0.25", value: i < 5 ? "8" : "0", required: "" }))),
  );
  let calendars = [];

  async function load() {
    calendars = await api("GET", `/orgs/${ORG}/worktime/holiday-calendars`);
    const calName = new Map(calendars.map((c) => [c.id, c.name]));
    const options = calendars.map((c) => el("option", { value: c.id, text: c.name }));
    $("#ct-calendar").replaceChildren(el("option", { value: "", text: "None" }), ...options.map((o) => o.cloneNode(true)));
    $("#hol-calendar").replaceChildren(...options);
    const contracts = (await api("GET", `/orgs/${ORG}/worktime/contracts?limit=200`)).items;
    const rows = contracts.map((c) => {
      const who = person.get(c.user_id) || c.user_id;
      const remove = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete the contract of ${who} from ${c.valid_from}` });
      remove.addEventListener("click", () =>
        act(remove, async () => {
          await api("DELETE", `/orgs/${ORG}/worktime/contracts/${c.id}`);
          await load();
          showInfo(`Deleted the contract of ${who} from ${c.valid_from}.`);
        }),
      );
      return el("tr", {}, el("td", { text: who }), el("td", { text: c.valid_from }), el("td", { text: c.weekday_minutes.map((m) => m / 60).join(" · ") }), el("td", { class: "num", text: `${c.weekly_minutes / 60} h` }), el("td", { text: calName.get(c.calendar_id) || "—" }), el("td", { class: "actions" }, editContracts ? remove : ""));
    });
    $("#contracts tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No contracts yet: nobody is expected to work any hours." }))]));
    const days = [];
    for (const c of calendars) {
      const holidays = await api("GET", `/orgs/${ORG}/worktime/holiday-calendars/${c.id}/holidays`);
      if (!holidays.length) days.push(el("tr", {}, el("td", { text: c.name }), el("td", { class: "muted", colspan: "3", text: "No holidays yet." })));
      for (const h of holidays) {
        const remove = el("button", { type: "button", class: "danger", text: "Remove", "aria-label": `Remove ${h.name} from ${c.name}` });
        remove.addEventListener("click", () =>
          act(remove, async () => {
            await api("DELETE", `/orgs/${ORG}/worktime/holiday-calendars/${c.id}/holidays/${h.id}`);
            await load();
          }),
        );
        days.push(el("tr", {}, el("td", { text: c.name }), el("td", { text: h.day }), el("td", { text: h.name }), el("td", { class: "actions" }, editCalendars ? remove : "")));
      }
    }
    $("#holidays tbody").replaceChildren(...(days.length ? days : [el("tr", {}, el("td", { colspan: "4", class: "muted", text: "No holiday calendars yet." }))]));
  }
  await load();

  $("#contract-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#ct-save"), async () => {
      const weekday_minutes = DAYS.map((_, i) => Math.round(Number($(`#ct-day-${i}`).value) * 60));
      await api("POST", `/orgs/${ORG}/worktime/contracts`, {
        user_id: $("#ct-user").value,
        valid_from: $("#ct-from").value,
        weekday_minutes,
        calendar_id: $("#ct-calendar").value || null,
      });
      await load();
      showInfo(`Added the contract of ${person.get($("#ct-user").value)} from ${$("#ct-from").value}.`);
    });
  });
  $("#calendar-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#cal-save"), async () => {
      const made = await api("POST", `/orgs/${ORG}/worktime/holiday-calendars`, { name: $("#cal-name").value.trim() });
      $("#cal-name").value = "";
      await load();
      showInfo(`Added the holiday calendar ${made.name}.`);
    });
  });
  $("#holiday-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#hol-save"), async () => {
      const made = await api("POST", `/orgs/${ORG}/worktime/holiday-calendars/${$("#hol-calendar").value}/holidays`, { day: $("#hol-day").value, name: $("#hol-name").value.trim() });
      $("#hol-name").value = "";
      await load();
      showInfo(`Added ${made.name} on ${made.day}.`);
    });
  });
}

// --- personal API tokens ---------------------------------------------------------------------------

async function tokens(perms, zone) {
  $("#tokens-panel").hidden = false;
  $("#token-form").hidden = !writable(perms, "personal_token:create");
  const ranks = perms.data.role_ranks;
  const mine = ranks[perms.role];
  const roles = Object.keys(ranks).filter((r) => ranks[r] <= mine).sort((a, b) => ranks[b] - ranks[a]);
  $("#token-role").replaceChildren(...roles.map((r) => el("option", { value: r, text: r === perms.role ? `${r} (yours)` : r })));
  const inDays = (n) => dayIn(new Date(Date.now() + n * 86400000), zone);
  $("#token-expires").value = inDays(90);
  $("#token-expires").min = inDays(1);
  $("#token-expires").max = inDays(365);

  async function load() {
    const page = await api("GET", `/orgs/${ORG}/personal-tokens?limit=100`);
    const rows = page.items.map((t) => {
      const revoke = el("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke the token ${t.name}` });
      revoke.addEventListener("click", () =>
        act(revoke, async () => {
          if (!confirm(`Revoke “${t.name}”? Whatever uses it stops working at once.`)) return;
          await api("DELETE", `/orgs/${ORG}/personal-tokens/${t.id}`);
          await load();
          showInfo(`Revoked “${t.name}”.`);
        }),
      );
      const state = t.revoked_at ? "revoked" : new Date(t.expires_at) < new Date() ? "expired" : null;
      return el(
        "tr",
        { "data-token": t.id },
        el("td", { text: t.name }),
        el("td", { text: t.role }),
        el("td", {}, el("code", { text: `${t.hint}…` })),
        el("td", { text: state ? `${state}` : dayIn(new Date(t.expires_at), zone) }),
        el("td", { text: when(t.last_used_at) }),
        el("td", { class: "actions" }, state || perms.readOnly ? "" : revoke),
      );
    });
    $("#tokens tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", class: "muted", text: "No tokens." }))]));
  }
  await load();

  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#token-create"), async () => {
      const created = await api("POST", `/orgs/${ORG}/personal-tokens`, {
        name: $("#token-name").value.trim(),
        expires_at: zonedInstant($("#token-expires").value, "23:59", zone),
        role: $("#token-role").value,
      });
      $("#token-value").textContent = created.token;
      $("#token-out").hidden = false;
      $("#token-name").value = "";
      await load();
      showInfo(`Created “${created.name}”. Copy it now: it is not shown again.`);
    });
  });
}

// --- imports --------------------------------------------------------------------------------------

function importSummary(job) {
  const kind = job.dry_run ? "Dry run" : "Import";
  const created = job.created_projects.length ? ` New projects: ${job.created_projects.join(", ")}.` : "";
  if (job.status === "queued") return `${kind} queued…`;
  if (job.status === "running") return `${kind} running: ${job.done_rows} of ${job.total_rows} rows.`;
  const verb = job.dry_run ? "would import" : "imported";
  return (
    `${kind} ${job.status === "done" ? "done" : "failed"}: ${verb} ${job.imported_rows} of ${job.total_rows} rows, ` +
    `${job.duplicate_rows} already there, ${job.errors.length} with problems.${created}`
  );
}

async function imports(perms) {
  $("#import-panel").hidden = false;
  $("#import-form").hidden = !writable(perms, "time_import:create");

  async function load() {
    const page = await api("GET", `/orgs/${ORG}/time-imports?limit=20`);
    const rows = page.items.map((j) =>
      el(
        "tr",
        {},
        el("td", { text: when(j.created_at) }),
        el("td", { text: j.filename || "—" }),
        el("td", { text: `${j.source}${j.dry_run ? ", dry run" : ""}` }),
        el("td", { text: j.status }),
        el("td", { class: "num", text: String(j.total_rows) }),
        el("td", { class: "num", text: String(j.imported_rows) }),
        el("td", { class: "num", text: String(j.duplicate_rows) }),
        el("td", { class: "num", text: String(j.errors.length) }),
      ),
    );
    $("#imports tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "8", class: "muted", text: "No imports yet." }))]));
  }

  async function watch(id) {
    $("#import-current").hidden = false;
    for (;;) {
      const job = await api("GET", `/orgs/${ORG}/time-imports/${id}`);
      $("#import-progress").value = job.total_rows ? Math.round((100 * job.done_rows) / job.total_rows) : 0;
      $("#import-status").textContent = importSummary(job);
      if (job.status === "done" || job.status === "failed") {
        $("#import-progress").value = 100;
        const problems = job.errors.map((e) => el("tr", {}, el("td", { class: "num", text: String(e.line) }), el("td", { text: e.reason })));
        $("#import-errors tbody").replaceChildren(...problems);
        $("#import-errors").hidden = problems.length === 0;
        return job;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  await load();
  $("#import-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#import-run"), async () => {
      const file = $("#import-file").files[0];
      if (!file) throw new Error("Choose the CSV file to import.");
      const job = await api("POST", `/orgs/${ORG}/time-imports`, {
        source: $("#import-source").value,
        csv: await file.text(),
        filename: file.name,
        dry_run: $("#import-dry").checked,
      });
      const done = await watch(job.id);
      await load();
      showInfo(importSummary(done));
    });
  });
}
