// Worktime web app: small vanilla ES modules, no dependencies. The pages are server-rendered shells;
// these modules fill them from the JSON API, calling it with the session cookie and, for every
// state-changing request, the session's CSRF token in X-CSRF-Token. What a page offers follows
// GET /orgs/{org}/me/permissions; the API enforces the same rules whatever the page shows.
// This module holds the organization, timer, timesheet, members and audit pages and starts the page;
// lib.js the shared helpers; absences.js, team.js, projects.js, calendar.js, clients.js, notes.js, decisions.js, reports.js,
// exports.js, settings.js, sso.js
// and reminders.js (the bell, notifications, reminders and scheduled exports) their pages.

import {
  body, ORG, ME, $, ApiError, api, allPages, el, showError, showInfo, act, duration, hours, timeOf, dayOf, DAYS,
  weekDays, currentWeek, weekNav, loadOrgChrome, denied, trackableProjects, projectNames, dayIn, zonedInstant,
} from "./lib.js";
import { teamPage } from "./team.js";
import { absencesPage } from "./absences.js";
import { projectsPage, projectPage, taskPage } from "./projects.js";
import { exportsPage } from "./exports.js";
import { reportsPage } from "./reports.js";
import { settingsPage } from "./settings.js";
import { clientsPage } from "./clients.js";
import { notesPage } from "./notes.js";
import { decisionsPage } from "./decisions.js";
import { ssoPage } from "./sso.js";
import { calendarPage } from "./calendar.js";
import { initBell, notificationsPage, remindersPage } from "./reminders.js";
// --- home: organization switcher and invitations -----------------------------------------------------

// A name's address form: "Acme Corp." -> "acme-corp" (the person may still change it).
const slugOf = (name) =>
  name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63).replace(/-+$/, "");

async function homePage() {
  const slug = $("#new-org-slug");
  $("#new-org-name").addEventListener("input", () => {
    if (!slug.dataset.edited) slug.value = slugOf($("#new-org-name").value);
  });
  slug.addEventListener("input", () => (slug.dataset.edited = "yes"));
  $("#new-org-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#new-org-create"), async () => {
      const org = await api("POST", "/orgs", { name: $("#new-org-name").value.trim(), slug: slug.value.trim() });
      location.assign(`/orgs/${org.id}/settings`);
    });
  });
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

// The person's own time zone in this organization (PUT /time-zone sets it; UTC until then).
async function myZone() {
  const sheet = await api("GET", `/orgs/${ORG}/timesheets?week=${currentWeek()}`);
  return sheet.time_zone;
}

async function timerPage(perms) {
  const [projects, names, zone] = await Promise.all([trackableProjects(perms), projectNames(), myZone()]);
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
    // "Today" is today in the person's own zone (the one their timesheet is cut in).
    const today = dayIn(new Date(), zone);
    const from = zonedInstant(today, "00:00", zone);
    const to = new Date(Date.parse(from) + 36 * 3600000).toISOString();
    const entries = (
      await allPages(`/orgs/${ORG}/time-entries?user_id=${ME}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)
    ).filter((e) => dayOf(e.start_local) === today);
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

const ABSENCE_LABELS = { vacation: "Vacation", sick: "Sick", other: "Away" };

// 125 -> "2:05 h"; signed ("+0:30 h", "−1:00 h") for overtime and balances.
function minutesText(minutes, signed = false) {
  const sign = minutes < 0 ? "−" : signed && minutes > 0 ? "+" : "";
  const m = Math.abs(minutes);
  return `${sign}${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")} h`;
}

async function timesheetPage(perms) {
  const names = await projectNames();
  const trackable = (await trackableProjects(perms)).filter((p) => names.has(p.id));
  $("#entry-project").replaceChildren(...trackable.map((p) => el("option", { value: p.id, text: p.name })));
  let zone = await myZone();
  let week = currentWeek(zone);
  let sheet = null;
  // The period lock: a week wholly before it takes no new entries (the API refuses them anyway).
  const lock = perms.has("time_lock:read") ? (await api("GET", `/orgs/${ORG}/time-lock`)).locked_until : null;

  const editable = () => sheet && ["open", "rejected", "reopened"].includes(sheet.status) && !perms.readOnly;

  function resetForm() {
    $("#entry-id").value = "";
    $("#entry-h").textContent = "Add an entry";
    $("#entry-save").textContent = "Save entry";
    $("#entry-cancel").hidden = true;
    $("#entry-desc").value = "";
  }

  // --- corrections of locked entries: GET/POST /time-entries/{id}/corrections ---
  const opened = new Set(); // entries whose corrections panel is open (kept across reloads)
  let people = null;
  async function whoIs(id) {
    if (id === ME) return "you";
    if (!people) {
      const members = perms.has("member:list") ? await allPages(`/orgs/${ORG}/members`) : [];
      people = new Map(members.map((m) => [m.user_id, m.display_name || m.email]));
    }
    return people.get(id) || "someone else";
  }
  const signed = (seconds) => `${seconds < 0 ? "−" : "+"}${duration(Math.abs(seconds))}`;

  function correctionRow(e, label, canCorrect, toggle) {
    const id = `corr-${e.id}`;
    const summary = el("p", { class: "corr-summary" });
    const history = el("ul", { class: "plain corr-list", "aria-label": `Corrections of ${label}` });
    const cell = el("td", { colspan: 6 }, el("h3", { class: "corr-h", text: `Corrections: ${label}` }), summary, history);
    const row = el("tr", { id, class: "corrections", hidden: true }, cell);
    row.toggle = toggle;
    row.refresh = async () => {
      delete row.dataset.loaded;
      const corrections = await api("GET", `/orgs/${ORG}/time-entries/${e.id}/corrections`);
      const total = corrections.reduce((a, c) => a + c.duration_delta_seconds, 0);
      summary.textContent = `Logged ${duration(e.duration_seconds || 0)}; corrections ${signed(total)}; the timesheet counts ${duration((e.duration_seconds || 0) + total)}.`;
      const items = [];
      for (const c of corrections) {
        items.push(
          el(
            "li",
            {},
            el("strong", { text: signed(c.duration_delta_seconds) }),
            ` by ${await whoIs(c.created_by)}, ${new Date(c.created_at).toLocaleString([], { timeZone: zone, dateStyle: "medium", timeStyle: "short" })}: `,
            el("q", { text: c.reason }),
          ),
        );
      }
      history.replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "No corrections yet." })]));
      row.dataset.loaded = String(corrections.length); // drawn: how many (tests wait for it)
    };
    if (canCorrect) {
      const error = el("p", { class: "form-error", id: `${id}-error`, role: "alert", hidden: true });
      const minutes = el("input", { type: "number", step: "1", required: true, id: `${id}-minutes`, "aria-describedby": `${id}-hint ${id}-error` });
      const reason = el("input", { maxlength: "2000", required: true, id: `${id}-reason`, "aria-describedby": `${id}-error` });
      const save = el("button", { type: "submit", class: "primary", text: "Save correction" });
      const cancel = el("button", { type: "button", text: "Cancel" });
      const form = el(
        "form",
        { class: "row wrap corr-form", "aria-label": `Add a correction to ${label}` },
        el("label", {}, "Change in minutes ", minutes),
        el("span", { class: "muted hint", id: `${id}-hint`, text: "Negative takes time off (−30), positive adds it (15)." }),
        el("label", { class: "grow" }, "Reason ", reason),
        save,
        cancel,
        error,
      );
      cancel.addEventListener("click", () => closeCorrections(e.id));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.hidden = true;
        const delta = Math.round(Number(minutes.value) * 60);
        if (!Number.isFinite(delta) || delta === 0) {
          error.textContent = "Give the change in whole minutes, other than 0.";
          error.hidden = false;
          minutes.focus();
          return;
        }
        save.disabled = true;
        try {
          await api("POST", `/orgs/${ORG}/time-entries/${e.id}/corrections`, { duration_delta_seconds: delta, reason: reason.value.trim() });
        } catch (problem) {
          // The API's refusal (problem+json detail), right next to the form.
          error.textContent = problem instanceof Error ? problem.message : String(problem);
          error.hidden = false;
          save.disabled = false;
          minutes.focus();
          return;
        }
        await load();
        showInfo(`Correction of ${signed(delta)} added to ${label}.`);
        $(`#corr-${e.id}`)?.toggle.focus();
      });
      cell.append(el("h4", { class: "corr-h", text: "Add a correction" }), form);
      row.form = { minutes };
    }
    row.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        closeCorrections(e.id);
      }
    });
    return row;
  }

  async function openCorrections(entryId, focus = true) {
    const row = $(`#corr-${entryId}`);
    if (!row) return;
    opened.add(entryId);
    row.hidden = false;
    row.toggle.setAttribute("aria-expanded", "true");
    try {
      await row.refresh();
    } catch (error) {
      showError(error);
    }
    if (focus) (row.form ? row.form.minutes : row.toggle).focus();
  }

  function closeCorrections(entryId) {
    const row = $(`#corr-${entryId}`);
    opened.delete(entryId);
    if (!row) return;
    row.hidden = true;
    row.toggle.setAttribute("aria-expanded", "false");
    row.toggle.focus();
  }

  function render() {
    const days = weekDays(week);
    $("#sheet-status").textContent = sheet.status;
    $("#sheet-status").className = `badge ${sheet.status}`;
    const reason = $("#sheet-reason");
    reason.hidden = !sheet.reason;
    reason.textContent = sheet.reason ? `Sent back: ${sheet.reason}` : "";
    $("#submit-week").hidden = !(editable() && perms.has("timesheet:submit") && sheet.entries.length);
    const lockedDay = lock ? dayIn(new Date(lock), zone) : null; // first day still open
    const weekLocked = Boolean(lockedDay && days[6] < lockedDay);
    const lockNote = $("#lock-note");
    lockNote.hidden = !lockedDay || days[0] >= lockedDay;
    lockNote.textContent = lockedDay
      ? `Time before ${lockedDay} is locked${weekLocked ? "" : " (part of this week)"}: its entries cannot be changed; ${perms.has("time_correction:create") ? "add a correction to fix one." : "a project lead or admin can add a correction."}`
      : "";
    $("#entry-panel").hidden = !(editable() && trackable.length && !weekLocked);
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
    // Working time: expected, tracked, the week's overtime and the running balance; absence and holiday days marked.
    const wt = sheet.worktime;
    $("#worktime").hidden = !wt;
    const marks = new Map();
    if (wt) {
      $("#wt-expected").textContent = minutesText(wt.expected_minutes);
      $("#wt-tracked").textContent = minutesText(wt.tracked_minutes);
      $("#wt-overtime").textContent = minutesText(wt.overtime_minutes, true);
      $("#wt-balance").textContent = minutesText(wt.balance_minutes, true);
      for (const d of wt.days) {
        if (d.holiday) marks.set(d.day, d.holiday);
        else if (d.absence) marks.set(d.day, `${ABSENCE_LABELS[d.absence]}${d.half_day ? " (half day)" : ""}`);
      }
    }
    const dayHead = (d, i) => {
      const th = el("th", { scope: "col", text: `${DAYS[i]} ${d.slice(5)}` });
      if (marks.has(d)) {
        th.classList.add("off");
        th.append(el("br"), el("span", { class: "day-mark", text: marks.get(d) }));
      }
      return th;
    };
    $("#week thead").replaceChildren(
      el("tr", {}, el("th", { scope: "col", text: "Project" }), ...days.map(dayHead), el("th", { scope: "col", text: "Total" })),
    );
    const rows = [...totals.entries()].map(([project, perDay]) => {
      const sum = [...perDay.values()].reduce((a, b) => a + b, 0);
      return el("tr", {}, el("th", { scope: "row", text: names.get(project) || "—" }), ...days.map((d) => el("td", { class: "num", text: perDay.get(d) ? hours(perDay.get(d)) : "" })), el("td", { class: "num", text: hours(sum) }));
    });
    $("#week tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 9, class: "muted", text: "No time logged this week." }))]));
    const dayTotal = (d) => [...totals.values()].reduce((a, m) => a + (m.get(d) || 0), 0);
    $("#week tfoot").replaceChildren(el("tr", {}, el("th", { scope: "row", text: "Total" }), ...days.map((d) => el("td", { class: "num", text: hours(dayTotal(d)) })), el("td", { class: "num", text: hours(sheet.total_seconds) })));

    const frozenWeek = ["submitted", "approved"].includes(sheet.status);
    const list = [];
    for (const e of sheet.entries.slice().sort((a, b) => a.start_at.localeCompare(b.start_at))) {
      const label = `${e.description || names.get(e.project_id) || "entry"} on ${dayOf(e.start_local)}`;
      // Locked: before the period lock, or in a submitted or approved week. Such entries are fixed
      // with corrections (added to the duration the timesheet and reports count), never rewritten.
      const frozen = !e.running && (e.locked || frozenWeek);
      const actions = el("td", { class: "actions" });
      let detail = null;
      if (frozen) {
        actions.append(el("span", { class: "badge locked", text: e.locked ? "locked period" : `week ${sheet.status}` }), " ");
        const canCorrect = !perms.readOnly && perms.onProject(e.project_id, "time_correction:create");
        const toggle = el("button", {
          type: "button",
          class: "corr-toggle",
          "data-entry": e.id,
          "aria-expanded": "false",
          "aria-controls": `corr-${e.id}`,
          text: canCorrect ? "Add correction" : "Corrections",
          "aria-label": `${canCorrect ? "Add correction to" : "Corrections of"} ${label}`,
        });
        detail = correctionRow(e, label, canCorrect, toggle);
        toggle.addEventListener("click", () => (detail.hidden ? openCorrections(e.id) : closeCorrections(e.id)));
        actions.append(toggle);
      } else if (e.running || !editable()) {
        actions.append(el("span", { class: "muted", text: e.running ? "running" : "read-only" }));
      } else {
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
            $("#list-h").focus();
          }),
        );
        actions.append(edit, " ", del);
      }
      const counted = e.corrected_duration_seconds ?? e.duration_seconds ?? 0;
      const durationCell = el("td", { class: "num", text: e.running ? "running" : duration(counted) });
      if (!e.running && counted !== (e.duration_seconds || 0)) {
        durationCell.append(el("span", { class: "muted corrected", text: ` (logged ${duration(e.duration_seconds || 0)})` }));
      }
      list.push(
        el(
          "tr",
          { "data-entry": e.id, tabindex: "-1" },
          el("td", { class: "when", text: dayOf(e.start_local) }),
          el("td", { text: names.get(e.project_id) || "—" }),
          el("td", { text: e.description || "" }),
          el("td", { class: "when", text: `${timeOf(e.start_local)}–${e.running ? "…" : timeOf(e.end_local)}` }),
          durationCell,
          actions,
        ),
      );
      if (detail) list.push(detail);
    }
    $("#entries tbody").replaceChildren(...(list.length ? list : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No entries." }))]));
    for (const id of opened) openCorrections(id, false);
  }

  async function load(next = week) {
    week = next;
    weekNav(week, load);
    sheet = await api("GET", `/orgs/${ORG}/timesheets?week=${week}`);
    zone = sheet.time_zone;
    $("#sheet-zone").textContent = zone;
    const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
    $("#browser-zone").textContent = browser && browser !== zone ? ` (This browser is in ${browser}.)` : "";
    if (document.activeElement !== $("#zone-input")) $("#zone-input").value = zone;
    render();
  }

  // Your own zone: where your days and weeks start (a submitted week keeps the zone it was cut in).
  $("#zone-form").hidden = !perms.has("time_profile:update") || Boolean(perms.readOnly);
  $("#zones").replaceChildren(...(Intl.supportedValuesOf?.("timeZone") || []).map((z) => el("option", { value: z })));
  $("#zone-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#zone-save"), async () => {
      const saved = await api("PUT", `/orgs/${ORG}/time-zone`, { time_zone: $("#zone-input").value.trim() });
      await load();
      showInfo(`Your time zone is now ${saved.time_zone}.`);
    });
  });
  $("#entry-cancel").addEventListener("click", resetForm);
  $("#entry-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#entry-save"), async () => {
      // The day and times are wall-clock times in the person's zone, whatever the browser's is.
      const day = $("#entry-day").value;
      const start = zonedInstant(day, $("#entry-from").value, zone);
      const end = zonedInstant(day, $("#entry-to").value, zone);
      if (!(Date.parse(end) > Date.parse(start))) throw new Error("The end time must be after the start time.");
      const data = {
        project_id: $("#entry-project").value,
        description: $("#entry-desc").value.trim() || null,
        start_at: start,
        end_at: end,
      };
      const id = $("#entry-id").value;
      const saved = id ? await api("PATCH", `/orgs/${ORG}/time-entries/${id}`, data) : await api("POST", `/orgs/${ORG}/time-entries`, data);
      resetForm();
      await load();
      showInfo("Saved.");
      // Keyboard users land on the saved row (Tab goes on to its Edit button).
      $(`#entries tr[data-entry="${saved.id}"]`)?.focus();
    });
  });
  $("#submit-week").addEventListener("click", () =>
    act($("#submit-week"), async () => {
      await api("POST", `/orgs/${ORG}/timesheets/submit`, { week });
      await load();
      showInfo("Your week was submitted for approval.");
      $("#sheet-status").focus(); // the button is gone; the new status is where focus goes
    }),
  );
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
              remove.setAttribute("aria-label", `Really remove? ${label}`); // the visible words, then whom
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
  const FILTERS = { action: "#f-action", actor_user_id: "#f-actor", resource_type: "#f-type", from: "#f-from", to: "#f-to" };
  $("#f-actor").append(...members.map((m) => el("option", { value: m.user_id, text: m.display_name || m.email })));
  for (const [name, selector] of Object.entries(FILTERS)) $(selector).value = query.get(name) || "";
  $("#f-export").hidden = !perms.has("export:create");

  function filters() {
    const chosen = new URLSearchParams();
    for (const [name, selector] of Object.entries(FILTERS)) {
      const value = $(selector).value.trim();
      if (!value) continue;
      // Dates are whole days in the browser's zone: "to" includes its day.
      if (name === "from") chosen.set(name, new Date(`${value}T00:00`).toISOString());
      else if (name === "to") chosen.set(name, new Date(new Date(`${value}T00:00`).getTime() + 86400000).toISOString());
      else chosen.set(name, value);
    }
    return chosen;
  }

  async function chain() {
    const state = await api("GET", `/orgs/${ORG}/audit-chain`);
    const line = $("#chain");
    line.classList.toggle("muted", false);
    line.classList.toggle("bad", !state.verified);
    const anchors = state.anchors;
    const anchored = anchors.latest
      ? ` Last signed anchor: head #${anchors.latest.head_seq} (${anchors.latest.reason}, ${new Date(anchors.latest.anchored_at).toLocaleString()}), ${anchors.anchors} anchors all verified.`
      : " No signed anchor yet (one is written at each period lock and on a schedule).";
    line.textContent = state.verified
      ? `Verified just now: ${state.events} events, each sealing the one before. Head #${state.head_seq ?? "–"} ${state.head_hash ? state.head_hash.slice(0, 16) + "…" : ""}.${anchored}`
      : state.broken_seq != null
        ? `NOT verified: event #${state.broken_seq} does not fit (${state.reason}). Events after it cannot be trusted.`
        : `NOT verified: ${anchors.reason}. Events were removed or an anchor was forged.`;
  }

  async function load() {
    const params = filters();
    params.set("limit", String(LIMIT));
    params.set("offset", String(offset));
    const page = await api("GET", `/orgs/${ORG}/audit-events?${params}`);
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
    for (const [name, selector] of Object.entries(FILTERS)) if ($(selector).value.trim()) state.set(name, $(selector).value.trim());
    if (LIMIT !== 25) state.set("limit", String(LIMIT));
    if (offset) state.set("offset", String(offset));
    history.replaceState(null, "", state.size ? `?${state}` : location.pathname);
  }
  $("#audit-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#f-apply"), async () => {
      offset = 0;
      await load();
    });
  });
  $("#f-export").addEventListener("click", () => act($("#f-export"), async () => {
    const chosen = filters();
    const today = new Date().toISOString().slice(0, 10);
    const body = {
      kind: "audit",
      format: "csv",
      from: $("#f-from").value || new Date(Date.now() - 364 * 86400000).toISOString().slice(0, 10),
      to: $("#f-to").value || today,
      time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    };
    for (const name of ["action", "actor_user_id", "resource_type"]) if (chosen.get(name)) body[name] = chosen.get(name);
    await api("POST", `/orgs/${ORG}/exports`, body);
    showInfo("The export was requested; it appears on the Exports page with its signed manifest.");
  }));
  $("#newer").addEventListener("click", () => act($("#newer"), async () => {
    offset = Math.max(0, offset - LIMIT);
    await load();
  }));
  $("#older").addEventListener("click", () => act($("#older"), async () => {
    offset += LIMIT;
    await load();
  }));
  await Promise.all([load(), chain()]);
}

// --- start ------------------------------------------------------------------------------------------

const PAGES = {
  timer: timerPage,
  timesheet: timesheetPage,
  absences: absencesPage,
  team: teamPage,
  projects: projectsPage,
  project: projectPage,
  task: taskPage,
  calendar: calendarPage,
  reports: reportsPage,
  clients: clientsPage,
  notes: notesPage,
  decisions: decisionsPage,
  exports: exportsPage,
  reminders: remindersPage,
  members: membersPage,
  audit: auditPage,
  sso: ssoPage,
  settings: settingsPage,
};

async function main() {
  try {
    const bell = initBell();
    if (body.dataset.page === "home") {
      await homePage();
    } else if (body.dataset.page === "notifications") {
      await notificationsPage();
    } else {
      const perms = await loadOrgChrome();
      await PAGES[body.dataset.page](perms);
    }
    await bell;
    body.dataset.ready = "true";
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) showError(error);
    body.dataset.ready = "error";
  }
}

main();
