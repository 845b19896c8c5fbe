// The calendar page: the organization's events by week or month (GET /events expands recurring ones),
// days cut in the person's own time zone; an event's details, RSVP, edit, delete and "cancel this
// occurrence" in a dialog; new and changed events in a form dialog. A private event of someone else
// comes from the API as busy time (no title, place or attendees) and is drawn as "Busy"; a cancelled
// one stays, struck through. What the page offers follows /me/permissions; the API decides.

import { ORG, ME, $, api, allPages, el, showError, showInfo, clearAlert, currentWeek, dayIn, zonedInstant } from "./lib.js";

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const STATUS = { confirmed: "Confirmed", tentative: "Tentative", cancelled: "Cancelled" };
const RSVP = { pending: "has not answered", accepted: "accepted", tentative: "tentative", declined: "declined" };
const REPEATS = {
  "FREQ=DAILY": "every day",
  "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR": "every weekday",
  "FREQ=WEEKLY": "every week",
  "FREQ=MONTHLY": "every month",
};

// --- calendar days as YYYY-MM-DD (no zone: the zone only cuts instants into days) -------------------

function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
const weekdayOf = (day) => (new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7; // Monday is 0
const mondayOf = (day) => addDays(day, -weekdayOf(day));
const firstOfMonth = (day) => `${day.slice(0, 7)}-01`;
function addMonths(day, n) {
  const d = new Date(`${firstOfMonth(day)}T00:00:00Z`);
  d.setUTCMonth(d.getUTCMonth() + n);
  return d.toISOString().slice(0, 10);
}
function dayLabel(day, options) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", ...options }).format(new Date(`${day}T12:00:00Z`));
}

// Split a stored rule into one of the form's choices and its COUNT.
function splitRule(rule) {
  if (!rule) return { repeat: "", count: "" };
  const parts = rule.replace(/^RRULE:/, "").split(";");
  const count = parts.find((p) => p.startsWith("COUNT="));
  const rest = parts.filter((p) => !p.startsWith("COUNT=")).join(";");
  return { repeat: rest, count: count ? count.slice(6) : "" };
}
function describeRule(rule) {
  const { repeat, count } = splitRule(rule);
  const what = REPEATS[repeat] || repeat;
  return count ? `${what}, ${count} times` : what;
}

// The person's own time zone in this organization (as the timesheet reads it), else the browser's.
async function personZone() {
  try {
    return (await api("GET", `/orgs/${ORG}/timesheets?week=${currentWeek()}`)).time_zone;
  } catch {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  }
}

// --- the page ---------------------------------------------------------------------------------------

async function calendarPage(perms) {
  if (!perms.has("event:list")) {
    const main = $("#main");
    for (const node of [...main.children]) if (node.tagName !== "H1" && node.id !== "alert") node.hidden = true;
    main.append(el("p", { class: "note", text: "You cannot see this organization's calendar." }));
    return;
  }
  const [zone, members] = await Promise.all([
    personZone(),
    perms.has("member:list") ? allPages(`/orgs/${ORG}/members`).catch(() => []) : Promise.resolve([]),
  ]);
  const names = new Map(members.map((m) => [m.user_id, m.display_name || m.email || m.user_id]));
  const nameOf = (id) => `${names.get(id) || "someone"}${id === ME ? " (you)" : ""}`;
  const timeFormat = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit" });
  const timeIn = (iso) => timeFormat.format(new Date(iso));
  $("#cal-zone").textContent = zone;
  const canCreate = perms.has("event:create");
  $("#cal-new").hidden = !canCreate;

  const params = new URLSearchParams(location.search);
  const today = dayIn(new Date(), zone);
  const state = {
    view: params.get("view") === "month" ? "month" : "week",
    day: /^\d{4}-\d{2}-\d{2}$/.test(params.get("day") || "") ? params.get("day") : today,
  };

  // The days on screen and the instant each starts at (plus the one after the last).
  function shownDays() {
    if (state.view === "week") {
      const monday = mondayOf(state.day);
      return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
    }
    const first = firstOfMonth(state.day);
    const last = addDays(addMonths(first, 1), -1);
    const start = mondayOf(first);
    const weeks = Math.ceil((weekdayOf(first) + Number(last.slice(8))) / 7);
    return Array.from({ length: weeks * 7 }, (_, i) => addDays(start, i));
  }

  function label(days) {
    if (state.view === "month") return dayLabel(state.day, { month: "long", year: "numeric" });
    const [first, last] = [days[0], days[6]];
    return `${dayLabel(first, { day: "numeric", month: "short" })} – ${dayLabel(last, { day: "numeric", month: "short", year: "numeric" })}`;
  }

  async function load() {
    const days = shownDays();
    const bounds = [...days, addDays(days[days.length - 1], 1)].map((d) => Date.parse(zonedInstant(d, "00:00", zone)));
    const from = new Date(bounds[0]).toISOString();
    const to = new Date(bounds[bounds.length - 1]).toISOString();
    const occurrences = await allPages(
      `/orgs/${ORG}/events?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
    );
    const byDay = days.map(() => []);
    for (const o of occurrences) {
      const start = Date.parse(o.starts_at);
      const end = Date.parse(o.ends_at);
      days.forEach((_, i) => {
        const overlaps = start < bounds[i + 1] && (end > bounds[i] || (end === start && start >= bounds[i]));
        if (overlaps) byDay[i].push(o);
      });
    }
    for (const list of byDay) list.sort((a, b) => Number(b.all_day) - Number(a.all_day) || a.starts_at.localeCompare(b.starts_at));
    $("#cal-label").textContent = label(days);
    $("#view-week").setAttribute("aria-pressed", String(state.view === "week"));
    $("#view-month").setAttribute("aria-pressed", String(state.view === "month"));
    const box = $("#calendar");
    box.replaceChildren(state.view === "week" ? weekView(days, byDay) : monthView(days, byDay));
    box.dataset.view = state.view;
  }

  function chip(o) {
    const title = o.busy ? `Busy${o.created_by ? ` (${nameOf(o.created_by)})` : ""}` : o.title;
    const time = o.all_day ? "All day" : timeIn(o.starts_at);
    const extra = [o.status !== "confirmed" ? STATUS[o.status].toLowerCase() : "", o.privacy === "private" && !o.busy ? "private" : "", o.recurring ? "repeats" : ""]
      .filter(Boolean)
      .join(", ");
    const button = el(
      "button",
      {
        type: "button",
        class: `chip status-${o.status}${o.busy ? " busy" : ""}${o.privacy === "private" && !o.busy ? " private" : ""}`,
        "data-event": o.event_id,
      },
      // The name is the visible text (time, title) plus what the styling says (status, private, repeats).
      el("span", { class: "chip-time", text: time }),
      " ",
      el("span", { class: "chip-title", text: title }),
      extra ? el("span", { class: "sr", text: ` (${extra})` }) : null,
    );
    button.addEventListener("click", () => openEvent(o, button).catch(showError));
    return el("li", {}, button);
  }

  function addButton(day) {
    if (!canCreate) return null;
    const button = el("button", {
      type: "button",
      class: "small add",
      text: "+",
      "data-day": day,
      "aria-label": `New event on ${dayLabel(day, { weekday: "long", day: "numeric", month: "long" })}`,
    });
    button.addEventListener("click", () => openForm(null, day, button));
    return button;
  }

  function weekView(days, byDay) {
    return el(
      "div",
      { class: "week-grid" },
      ...days.map((day, i) =>
        el(
          "section",
          { class: `day${day === today ? " today" : ""}`, "aria-label": dayLabel(day, { weekday: "long", day: "numeric", month: "long" }) },
          el(
            "div",
            { class: "day-head" },
            el("h3", { text: `${WEEKDAYS[i]} ${dayLabel(day, { day: "numeric", month: "short" })}` }),
            addButton(day),
          ),
          byDay[i].length
            ? el("ul", { class: "chips" }, ...byDay[i].map(chip))
            : el("p", { class: "muted empty", text: "Nothing" }),
        ),
      ),
    );
  }

  function monthView(days, byDay) {
    const rows = [];
    for (let w = 0; w < days.length / 7; w++) {
      rows.push(
        el(
          "tr",
          {},
          ...days.slice(w * 7, w * 7 + 7).map((day, j) => {
            const i = w * 7 + j;
            const other = day.slice(0, 7) !== state.day.slice(0, 7);
            return el(
              "td",
              { class: `${other ? "other" : ""}${day === today ? " today" : ""}` },
              el("div", { class: "day-head" }, el("span", { class: "num", text: String(Number(day.slice(8))) }), addButton(day)),
              byDay[i].length ? el("ul", { class: "chips" }, ...byDay[i].map(chip)) : null,
            );
          }),
        ),
      );
    }
    return el(
      "table",
      { class: "month-grid" },
      el("caption", { class: "sr", text: dayLabel(state.day, { month: "long", year: "numeric" }) }),
      el("thead", {}, el("tr", {}, ...WEEKDAYS.map((d) => el("th", { scope: "col", text: d })))),
      el("tbody", {}, ...rows),
    );
  }

  // --- dialogs ---------------------------------------------------------------------------------------

  function dialogAlert(id, message) {
    const box = $(id);
    box.textContent = message || "";
    box.hidden = !message;
  }
  for (const [dialog, close] of [["#event-dialog", "#ev-close"], ["#form-dialog", "#form-close"]]) {
    $(close).addEventListener("click", () => $(dialog).close());
  }
  $("#f-cancel").addEventListener("click", () => $("#form-dialog").close());
  // Escape closes a modal <dialog> by itself; focus goes back to what opened it.
  let opener = null;
  for (const id of ["#event-dialog", "#form-dialog"]) {
    $(id).addEventListener("close", () => {
      if (opener && document.contains(opener) && !$("#event-dialog").open && !$("#form-dialog").open) opener.focus();
    });
  }

  function when(event, occurrence) {
    const start = occurrence ? occurrence.starts_at : event.starts_at;
    const end = occurrence ? occurrence.ends_at : event.ends_at;
    const day = dayIn(new Date(start), zone);
    const dayText = dayLabel(day, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
    if (event.all_day) return `${dayText}, all day`;
    return `${dayText}, ${timeIn(start)}–${timeIn(end)}`;
  }

  async function openEvent(occurrence, from) {
    clearAlert();
    opener = from;
    const event = await api("GET", `/orgs/${ORG}/events/${occurrence.event_id}`);
    const dialog = $("#event-dialog");
    dialogAlert("#ev-alert", "");
    $("#ev-title").textContent = event.busy ? "Busy" : event.title;
    $("#ev-title").classList.toggle("struck", event.status === "cancelled");
    const badges = [el("span", { class: `badge status-${event.status}`, text: STATUS[event.status] })];
    if (event.privacy === "private") badges.push(el("span", { class: "badge private", text: "Private" }));
    $("#ev-badges").replaceChildren(...badges);
    const facts = [["When", when(event, occurrence)]];
    if (event.rrule) facts.push(["Repeats", describeRule(event.rrule)]);
    if (event.location) facts.push(["Where", event.location]);
    if (event.created_by) facts.push(["Organizer", nameOf(event.created_by)]);
    if (event.busy) facts.push(["Details", "Private: only its organizer and attendees see what it is."]);
    $("#ev-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
    $("#ev-description").textContent = event.description || "";
    $("#ev-description").hidden = !event.description;
    $("#ev-attendees-section").hidden = !event.attendees.length;
    $("#ev-attendees").replaceChildren(
      ...event.attendees.map((a) => el("li", { text: `${nameOf(a.user_id)}: ${RSVP[a.rsvp]}` })),
    );
    const mine = event.attendees.find((a) => a.user_id === ME);
    const rsvp = $("#ev-rsvp");
    rsvp.hidden = !(mine && perms.has("event:rsvp"));
    for (const button of rsvp.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(mine?.rsvp === button.dataset.rsvp));
      button.onclick = () =>
        dialogAct(button, "#ev-alert", async () => {
          await api("PUT", `/orgs/${ORG}/events/${event.id}/rsvp`, { response: button.dataset.rsvp });
          dialog.close();
          await load();
          showInfo(`You answered “${button.textContent}”.`);
        });
    }
    const mayChange =
      !event.busy &&
      (event.created_by === ME || (event.privacy === "public" && perms.has("event:manage")));
    $("#ev-edit").hidden = !(mayChange && perms.has("event:update"));
    $("#ev-delete").hidden = !(mayChange && perms.has("event:delete"));
    $("#ev-cancel-one").hidden = !(mayChange && perms.has("event:update") && event.rrule);
    $("#ev-edit").onclick = () => {
      dialog.close();
      openForm(event, null, from);
    };
    $("#ev-delete").onclick = () =>
      dialogAct($("#ev-delete"), "#ev-alert", async () => {
        const what = event.rrule ? "this event and all its occurrences" : "this event";
        if (!window.confirm(`Delete ${what}?`)) return;
        await api("DELETE", `/orgs/${ORG}/events/${event.id}`);
        dialog.close();
        await load();
        showInfo("The event was deleted.");
      });
    $("#ev-cancel-one").onclick = () =>
      dialogAct($("#ev-cancel-one"), "#ev-alert", async () => {
        await api("POST", `/orgs/${ORG}/events/${event.id}/cancellations`, { occurrence_start: occurrence.starts_at });
        dialog.close();
        await load();
        showInfo(`The occurrence on ${when(event, occurrence)} was cancelled.`);
      });
    dialog.showModal();
  }

  async function dialogAct(button, alertId, action) {
    dialogAlert(alertId, "");
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      dialogAlert(alertId, error instanceof Error ? error.message : String(error));
    } finally {
      button.disabled = false;
    }
  }

  let editing = null;
  const attendeeSelect = $("#f-attendees");
  attendeeSelect.replaceChildren(
    ...members
      .filter((m) => m.status === "active")
      .map((m) => el("option", { value: m.user_id, text: m.user_id === ME ? `${names.get(m.user_id)} (you)` : names.get(m.user_id) })),
  );
  $("#f-all-day").addEventListener("change", () => {
    for (const id of ["#f-from", "#f-to"]) $(id).disabled = $("#f-all-day").checked;
  });

  function openForm(event, day, from) {
    clearAlert();
    opener = from || $("#cal-new");
    editing = event;
    dialogAlert("#form-alert", "");
    $("#form-title").textContent = event ? "Edit event" : "New event";
    $("#f-save").textContent = event ? "Save changes" : "Create event";
    const startDay = event ? dayIn(new Date(event.starts_at), zone) : day || state.day;
    $("#f-title").value = event?.title || "";
    $("#f-day").value = startDay;
    $("#f-from").value = event ? timeIn(event.starts_at) : "09:00";
    $("#f-to").value = event ? timeIn(event.ends_at) : "10:00";
    $("#f-all-day").checked = Boolean(event?.all_day);
    for (const id of ["#f-from", "#f-to"]) $(id).disabled = Boolean(event?.all_day);
    const { repeat, count } = splitRule(event?.rrule);
    const select = $("#f-repeat");
    select.querySelector("option[data-custom]")?.remove();
    if (repeat && !(repeat in REPEATS)) select.append(el("option", { value: repeat, "data-custom": "true", text: `As set: ${repeat}` }));
    select.value = repeat;
    $("#f-count").value = count;
    $("#f-status").value = event?.status || "confirmed";
    $("#f-privacy").value = event?.privacy || "public";
    // Only an event's creator makes it private (the API refuses anyone else).
    $("#f-privacy").disabled = Boolean(event && event.created_by !== ME);
    $("#f-location").value = event?.location || "";
    $("#f-description").value = event?.description || "";
    const chosen = new Set((event?.attendees || []).map((a) => a.user_id));
    for (const option of attendeeSelect.options) option.selected = chosen.has(option.value);
    $("#form-dialog").showModal();
    $("#f-title").focus();
  }

  $("#event-form").addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    dialogAct($("#f-save"), "#form-alert", async () => {
      const day = $("#f-day").value;
      const allDay = $("#f-all-day").checked;
      const startsAt = zonedInstant(day, allDay ? "00:00" : $("#f-from").value, zone);
      const endsAt = allDay ? zonedInstant(addDays(day, 1), "00:00", zone) : zonedInstant(day, $("#f-to").value, zone);
      if (Date.parse(endsAt) < Date.parse(startsAt)) throw new Error("The event must end after it starts.");
      const repeat = $("#f-repeat").value;
      const count = $("#f-count").value;
      const data = {
        title: $("#f-title").value,
        starts_at: startsAt,
        ends_at: endsAt,
        all_day: allDay,
        timezone: zone,
        rrule: repeat ? (count ? `${repeat};COUNT=${count}` : repeat) : null,
        status: $("#f-status").value,
        location: $("#f-location").value.trim() || null,
        description: $("#f-description").value.trim() || null,
        attendee_ids: [...attendeeSelect.selectedOptions].map((o) => o.value),
      };
      if (!$("#f-privacy").disabled) data.privacy = $("#f-privacy").value;
      if (editing) await api("PATCH", `/orgs/${ORG}/events/${editing.id}`, data);
      else await api("POST", `/orgs/${ORG}/events`, data);
      $("#form-dialog").close();
      state.day = day;
      go();
      await load();
      showInfo(editing ? "The event was saved." : "The event was created.");
    });
  });

  // --- navigation ------------------------------------------------------------------------------------

  function go() {
    history.replaceState(null, "", `?view=${state.view}&day=${state.day}`);
  }
  const move = (delta) => {
    state.day = state.view === "week" ? addDays(state.day, 7 * delta) : addMonths(state.day, delta);
    go();
    return load();
  };
  const bind = (id, action) => $(id).addEventListener("click", () => action().catch(showError));
  bind("#cal-prev", () => move(-1));
  bind("#cal-next", () => move(1));
  bind("#cal-today", () => {
    state.day = today;
    go();
    return load();
  });
  bind("#view-week", () => {
    state.view = "week";
    go();
    return load();
  });
  bind("#view-month", () => {
    state.view = "month";
    go();
    return load();
  });
  // A new event starts today when today is on screen, else on the first day shown.
  $("#cal-new").addEventListener("click", () => {
    const days = shownDays().filter((d) => state.view === "week" || d.slice(0, 7) === state.day.slice(0, 7));
    openForm(null, days.includes(today) ? today : days[0], $("#cal-new"));
  });
  await load();
}

export { calendarPage };
