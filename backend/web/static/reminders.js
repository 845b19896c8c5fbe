// Reminders in the web app: the header's bell (unread count, a dropdown of the newest notifications with
// "mark read"), the notifications page (every organization's, paginated), the reminders page (your own
// mutes in this organization; the organization's rules for who may read or manage them) and the exports
// page's scheduled-exports section. Everything goes through the JSON API with the session cookie:
//   GET  /me/notifications?unread=&limit=&offset=     POST /me/notifications/{id}/read
//   GET/PUT /orgs/{org}/me/reminder-mutes              /orgs/{org}/reminder-rules (POST, GET, PATCH, DELETE)
//   /orgs/{org}/export-schedules (POST, GET, DELETE)

import { ORG, $, api, allPages, el, showInfo, act, DAYS, denied } from "./lib.js";

export const KIND_LABELS = {
  no_time_logged: "No time logged today",
  timer_running: "Timer running too long",
  timesheet_not_submitted: "Last week's timesheet not submitted",
  approval_waiting: "Timesheets waiting for approval",
  task_reminder: "Task reminders",
  event_reminder: "Event reminders",
};
const label = (kind) => KIND_LABELS[kind] || kind;
const when = (iso) => new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
const BELL_ITEMS = 8;

// --- the bell ------------------------------------------------------------------------------------------

async function unreadCount() {
  const page = await api("GET", "/me/notifications?unread=true&limit=1");
  return page.total;
}

export async function refreshBell() {
  const count = await unreadCount();
  const badge = $("#bell-count");
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = count === 0;
  $("#bell").setAttribute("aria-label", count ? `Notifications, ${count} unread` : "Notifications, none unread");
  return count;
}

async function markRead(id) {
  await api("POST", `/me/notifications/${id}/read`);
  await refreshBell();
}

// One notification as a list item: title (a link to where to act), body, time, and "Mark read".
function item(n, after) {
  const li = el("li", { class: `notification${n.read ? "" : " unread"}`, "data-notification": n.id });
  const head = el("div", { class: "n-head" }, el("a", { href: new URL(n.link, location.origin).pathname, text: n.title }));
  head.append(el("span", { class: "muted n-when", text: when(n.created_at) }));
  li.append(head, el("p", { class: "n-body", text: n.body }));
  if (!n.read) {
    // Named by its visible text first ("Mark read"), then which notification, for screen readers.
    const button = el("button", { type: "button", class: "small" }, "Mark read", el("span", { class: "sr", text: `: ${n.title}` }));
    button.addEventListener("click", () =>
      act(button, async () => {
        await markRead(n.id);
        await after();
      }),
    );
    li.append(button);
  }
  return li;
}

async function fillBellMenu() {
  const page = await api("GET", `/me/notifications?limit=${BELL_ITEMS}`);
  const list = $("#bell-list");
  list.replaceChildren(...(page.items.length ? page.items.map((n) => item(n, fillBellMenu)) : [el("li", { class: "muted", text: "No notifications yet." })]));
}

export async function initBell() {
  const bell = $("#bell");
  const menu = $("#bell-menu");
  const close = () => {
    menu.hidden = true;
    bell.setAttribute("aria-expanded", "false");
  };
  bell.addEventListener("click", () =>
    act(null, async () => {
      if (!menu.hidden) return close();
      await fillBellMenu();
      menu.hidden = false;
      bell.setAttribute("aria-expanded", "true");
    }),
  );
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !menu.hidden) {
      close();
      bell.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!menu.hidden && !event.target.closest(".bell-wrap")) close();
  });
  await refreshBell();
}

// --- the notifications page ------------------------------------------------------------------------------

export async function notificationsPage() {
  const LIMIT = 20;
  let offset = 0;
  const orgs = new Map((await allPages("/orgs")).map((o) => [o.id, o.name]));
  async function load() {
    const unread = $("#n-unread").checked ? "&unread=true" : "";
    const page = await api("GET", `/me/notifications?limit=${LIMIT}&offset=${offset}${unread}`);
    const items = page.items.map((n) => {
      const li = item(n, load);
      li.querySelector(".n-head").append(el("span", { class: "badge", text: orgs.get(n.org_id) || "" }));
      return li;
    });
    $("#notifications").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: unread ? "Nothing unread." : "No notifications yet." })]));
    const last = Math.min(page.total, offset + page.items.length);
    $("#n-info").textContent = page.total ? `${offset + 1} to ${last} of ${page.total}` : "";
    $("#n-newer").disabled = offset === 0;
    $("#n-older").disabled = last >= page.total;
    await refreshBell();
  }
  $("#n-unread").addEventListener("change", () => act(null, async () => {
    offset = 0;
    await load();
  }));
  $("#n-newer").addEventListener("click", () => act($("#n-newer"), async () => {
    offset = Math.max(0, offset - LIMIT);
    await load();
  }));
  $("#n-older").addEventListener("click", () => act($("#n-older"), async () => {
    offset += LIMIT;
    await load();
  }));
  await load();
}

// --- the reminders page: your mutes, the organization's rules -----------------------------------------------

async function mutesPanel(perms) {
  if (!perms.has("reminder_mute:read")) return;
  const state = await api("GET", `/orgs/${ORG}/me/reminder-mutes`);
  const muted = new Set(state.muted);
  const box = $("#mute-kinds");
  box.replaceChildren(
    box.querySelector("legend"),
    ...state.kinds.map((kind) =>
      el("label", { class: "check" }, el("input", { type: "checkbox", value: kind, checked: !muted.has(kind), "data-kind": kind }), ` ${label(kind)}`),
    ),
  );
  const canChange = perms.has("reminder_mute:update") && !perms.readOnly;
  for (const input of box.querySelectorAll("input")) input.disabled = !canChange;
  $("#mutes-save").hidden = !canChange;
  $("#mutes-panel").hidden = false;
  $("#mutes-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#mutes-save"), async () => {
      const off = [...box.querySelectorAll("input")].filter((i) => !i.checked).map((i) => i.value);
      const saved = await api("PUT", `/orgs/${ORG}/me/reminder-mutes`, { muted: off });
      showInfo(saved.muted.length ? `Saved. Muted here: ${saved.muted.map(label).join(", ")}.` : "Saved. You receive every kind of reminder here.");
    });
  });
}

function describe(rule) {
  if (rule.kind === "timer_running") return `a timer running longer than ${rule.hours} h`;
  const days = rule.weekdays.length === 7 ? "every day" : rule.weekdays.map((d) => DAYS[d - 1]).join(", ");
  return `${days}, from ${rule.local_time.slice(0, 5)}`;
}

async function rulesSection(perms) {
  if (!perms.has("reminder_rule:read")) return;
  const manage = perms.has("reminder_rule:manage") && !perms.readOnly;
  const form = $("#rule-form");
  let editing = null; // the rule being edited, or null for a new one
  $("#r-days").append(
    ...DAYS.map((day, i) => el("label", { class: "check" }, el("input", { type: "checkbox", value: String(i + 1), checked: i < 5 }), ` ${day}`)),
  );
  const kindChanged = () => {
    const timer = $("#r-kind").value === "timer_running";
    $("#r-hours-label").hidden = !timer;
    $("#r-time-label").hidden = timer;
    $("#r-days").hidden = timer;
  };
  $("#r-kind").addEventListener("change", kindChanged);

  function reset() {
    editing = null;
    form.reset();
    $("#r-kind").disabled = false;
    $("#rule-form-h").textContent = "Add a rule";
    $("#rule-save").textContent = "Add rule";
    $("#rule-cancel").hidden = true;
    kindChanged();
  }
  function edit(rule) {
    editing = rule;
    $("#r-kind").value = rule.kind;
    $("#r-kind").disabled = true; // fixed once created
    $("#r-name").value = rule.name;
    $("#r-time").value = rule.local_time.slice(0, 5);
    $("#r-hours").value = rule.hours ?? 8;
    $("#r-enabled").checked = rule.enabled;
    for (const input of $("#r-days").querySelectorAll("input")) input.checked = rule.weekdays.includes(Number(input.value));
    $("#rule-form-h").textContent = `Edit “${rule.name}”`;
    $("#rule-save").textContent = "Save rule";
    $("#rule-cancel").hidden = false;
    kindChanged();
    $("#r-name").focus();
  }

  async function load() {
    const rules = await allPages(`/orgs/${ORG}/reminder-rules`);
    const rows = rules.map((rule) => {
      const cell = el("td", { class: "actions" });
      if (manage) {
        const toggle = el("button", { type: "button", text: rule.enabled ? "Disable" : "Enable", "aria-label": `${rule.enabled ? "Disable" : "Enable"} ${rule.name}` });
        toggle.addEventListener("click", () =>
          act(toggle, async () => {
            await api("PATCH", `/orgs/${ORG}/reminder-rules/${rule.id}`, { enabled: !rule.enabled });
            await load();
          }),
        );
        const change = el("button", { type: "button", text: "Edit", "aria-label": `Edit ${rule.name}` });
        change.addEventListener("click", () => edit(rule));
        const remove = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${rule.name}` });
        remove.addEventListener("click", () =>
          act(remove, async () => {
            if (!confirm(`Delete the rule “${rule.name}”? The notifications it sent are removed too.`)) return;
            await api("DELETE", `/orgs/${ORG}/reminder-rules/${rule.id}`);
            if (editing?.id === rule.id) reset();
            await load();
          }),
        );
        cell.append(toggle, " ", change, " ", remove);
      }
      return el(
        "tr",
        { "data-rule": rule.id },
        el("td", { text: rule.name }),
        el("td", { text: label(rule.kind) }),
        el("td", { text: describe(rule) }),
        el("td", {}, el("span", { class: `badge ${rule.enabled ? "approved" : ""}`, text: rule.enabled ? "enabled" : "disabled" })),
        cell,
      );
    });
    $("#rules tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5, class: "muted", text: "No rules yet." }))]));
  }

  form.hidden = !manage;
  $("#rule-cancel").addEventListener("click", reset);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#rule-save"), async () => {
      const kind = $("#r-kind").value;
      const data = { name: $("#r-name").value.trim(), enabled: $("#r-enabled").checked };
      if (kind === "timer_running") data.hours = Number($("#r-hours").value);
      else {
        data.local_time = $("#r-time").value;
        data.weekdays = [...$("#r-days").querySelectorAll("input:checked")].map((i) => Number(i.value));
        if (!data.weekdays.length) throw new Error("Choose at least one weekday.");
      }
      if (editing) {
        if (!data.name) delete data.name;
        const saved = await api("PATCH", `/orgs/${ORG}/reminder-rules/${editing.id}`, data);
        showInfo(`Saved the rule “${saved.name}”.`);
      } else {
        const made = await api("POST", `/orgs/${ORG}/reminder-rules`, { kind, ...data });
        showInfo(`Added the rule “${made.name}”.`);
      }
      reset();
      await load();
    });
  });
  kindChanged();
  $("#rules-section").hidden = false;
  await load();
}

export async function remindersPage(perms) {
  if (!perms.has("reminder_mute:read") && !perms.has("reminder_rule:read")) {
    denied("Reminders are not available to you in this organization.");
    return;
  }
  await Promise.all([mutesPanel(perms), rulesSection(perms)]);
}

// --- the exports page: scheduled exports --------------------------------------------------------------------

const WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const READERS = new Set(["owner", "admin", "manager", "auditor"]); // who may receive an export (export:read)

export async function schedulesSection(perms, zone) {
  if (!perms.has("export_schedule:list")) return;
  const manage = perms.has("export_schedule:manage") && !perms.readOnly;
  const members = perms.has("member:list") ? await allPages(`/orgs/${ORG}/members`) : [];
  const who = new Map(members.map((m) => [m.user_id, m.display_name || m.email || m.user_id.slice(0, 8)]));
  const readers = members.filter((m) => m.status === "active" && READERS.has(m.role));
  $("#s-recipients").replaceChildren(
    ...readers.map((m) => el("option", { value: m.user_id, text: `${who.get(m.user_id)} (${m.role})`, selected: m.user_id === document.body.dataset.user })),
  );
  $("#s-zone").value = zone || "UTC";
  const cadenceChanged = () => {
    const weekly = $("#s-cadence").value === "weekly";
    $("#s-day-label").hidden = weekly;
    $("#s-weekday-label").hidden = !weekly;
    $("#s-period").value = weekly ? "previous_week" : "previous_month";
  };
  $("#s-cadence").addEventListener("change", cadenceChanged);

  async function load() {
    const schedules = await allPages(`/orgs/${ORG}/export-schedules`);
    const rows = schedules.map((s) => {
      const cell = el("td", { class: "actions" });
      if (manage) {
        const remove = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete the schedule ${s.name}` });
        remove.addEventListener("click", () =>
          act(remove, async () => {
            if (!confirm(`Delete the schedule “${s.name}”? The exports it made stay.`)) return;
            await api("DELETE", `/orgs/${ORG}/export-schedules/${s.id}`);
            showInfo(`Deleted the schedule “${s.name}”.`);
            await load();
          }),
        );
        cell.append(remove);
      }
      const at = `${s.local_time.slice(0, 5)} ${s.time_zone}`;
      const whenText = s.cadence === "monthly" ? `monthly, day ${s.day_of_month} at ${at}` : `weekly, ${WEEKDAY_NAMES[s.weekday - 1]} at ${at}`;
      return el(
        "tr",
        { "data-schedule": s.id },
        el("td", { text: s.name }),
        el("td", { text: whenText }),
        el("td", { text: `${s.kind} · ${s.format.toUpperCase()} · ${s.period === "previous_month" ? "the month before" : "the week before"}` }),
        el("td", { text: s.recipients.map((id) => who.get(id) || id.slice(0, 8)).join(", ") }),
        el("td", {}, el("span", { class: `badge ${s.enabled ? "approved" : ""}`, text: s.enabled ? "enabled" : "disabled" })),
        cell,
      );
    });
    $("#schedules tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No scheduled exports." }))]));
  }

  $("#schedule-form").hidden = !manage;
  $("#schedule-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#schedule-save"), async () => {
      const weekly = $("#s-cadence").value === "weekly";
      const data = {
        name: $("#s-name").value.trim(),
        cadence: $("#s-cadence").value,
        local_time: $("#s-time").value,
        time_zone: $("#s-zone").value.trim() || "UTC",
        period: $("#s-period").value,
        kind: $("#s-kind").value,
        format: $("#s-format").value,
        recipients: [...$("#s-recipients").selectedOptions].map((o) => o.value),
      };
      if (weekly) data.weekday = Number($("#s-weekday").value);
      else data.day_of_month = Number($("#s-day").value);
      const made = await api("POST", `/orgs/${ORG}/export-schedules`, data);
      showInfo(`Scheduled “${made.name}”.`);
      await load();
    });
  });
  $("#schedules-section").hidden = false;
  await load();
}
