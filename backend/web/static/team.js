// Team dashboard: everything from GET /dashboard (this week, running timers, your approval queue) and
// the report endpoints (another week's days by people, its top projects, budget burn).

import { ORG, ME, $, api, el, showInfo, act, duration, hours, DAYS, weekDays, currentWeek, weekNav, projectNames, dayOf, timeOf } from "./lib.js";
import { barChart } from "./charts.js";

const emptyRow = (colspan, text) => el("tr", {}, el("td", { colspan, class: "muted", text }));
const KINDS = { vacation: "Vacation", sick: "Sick", other: "Away" };

// 125 -> "2:05 h"; signed for overtime and balances.
function minutesText(minutes, signed = false) {
  const sign = minutes < 0 ? "\u2212" : signed && minutes > 0 ? "+" : "";
  const m = Math.abs(minutes);
  return `${sign}${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")} h`;
}

// "Vacation 12-21 to 12-23", "Sick 11-24 (half day)".
const absenceText = (absences) =>
  absences
    .map((a) => `${KINDS[a.kind]} ${a.first_day.slice(5)}${a.last_day !== a.first_day ? ` to ${a.last_day.slice(5)}` : ""}${a.half_day ? " (half day)" : ""}`)
    .join(", ");

export async function teamPage(perms) {
  if (!perms.has("team_time:read") && !perms.has("timesheet:approve")) {
    const main = $("#main");
    for (const node of [...main.children]) if (node.tagName !== "H1" && node.id !== "alert") node.hidden = true;
    main.append(el("p", { class: "note", text: "The team dashboard is for managers, project leads, admins and auditors." }));
    return;
  }
  // The dashboard answers in the caller's own zone; weeks and days are cut in it.
  let board = await api("GET", `/orgs/${ORG}/dashboard`);
  const zone = board.time_zone;
  let week = currentWeek(zone);
  $("#scope-note").textContent = {
    organization: "Everyone in the organization.",
    led_projects: "Time on the projects you lead.",
    own: "Your own time.",
  }[board.scope] + ` Days in ${zone}.`;

  async function load(next = week, fresh = false) {
    week = next;
    weekNav(week, load);
    const days = weekDays(week);
    if (fresh) board = await api("GET", `/orgs/${ORG}/dashboard`);
    const tz = encodeURIComponent(zone);
    let people;
    let top;
    if (week === board.week) {
      people = board.this_week.map((m) => ({ name: m.name, days: m.days, total: m.total_seconds }));
      top = board.top_projects.map((p) => ({ label: p.name, seconds: p.duration_seconds }));
    } else {
      const [sheet, time] = await Promise.all([
        api("GET", `/orgs/${ORG}/reports/timesheet?week=${week}&tz=${tz}`),
        api("GET", `/orgs/${ORG}/reports/time?from=${days[0]}&to=${days[6]}&tz=${tz}&group_by=project`),
      ]);
      people = sheet.people.map((p) => ({ name: p.name, days: p.days, total: p.total_seconds }));
      top = time.groups
        .map((g) => ({ label: g.label || "—", seconds: g.duration_seconds }))
        .sort((a, b) => b.seconds - a.seconds)
        .slice(0, 5);
    }
    people = people.filter((p) => p.total > 0);
    barChart($("#chart"), people.map((p) => ({ label: p.name || "—", value: p.total / 3600 })));
    $("#hours thead").replaceChildren(
      el("tr", {}, el("th", { scope: "col", text: "Member" }), ...days.map((d, i) => el("th", { scope: "col", text: `${DAYS[i]} ${d.slice(5)}` })), el("th", { scope: "col", text: "Total" })),
    );
    const rows = people.map((p) => {
      const perDay = new Map(p.days.map((c) => [c.day, c.duration_seconds]));
      return el("tr", {}, el("th", { scope: "row", text: p.name || "—" }), ...days.map((d) => el("td", { class: "num", text: perDay.get(d) ? hours(perDay.get(d)) : "" })), el("td", { class: "num", text: hours(p.total) }));
    });
    $("#hours tbody").replaceChildren(...(rows.length ? rows : [emptyRow(9, "No time logged this week.")]));
    barChart($("#top-chart"), top.map((p) => ({ label: p.label, value: p.seconds / 3600 })));

    $("#running-now").replaceChildren(
      ...(board.running_timers.length
        ? board.running_timers.map((t) =>
            el("li", {}, el("strong", { text: t.name || "someone" }), ` on ${t.project_name}, since ${new Date(t.start_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", timeZone: zone })} (${duration(t.elapsed_seconds)})`),
          )
        : [el("li", { class: "muted", text: "Nobody is running a timer." })]),
    );

    // Working time: the dashboard's week only (expected, tracked, overtime, balance, absences).
    const wt = week === board.week ? board.worktime || [] : [];
    $("#worktime-section").hidden = !wt.length;
    $("#worktime tbody").replaceChildren(
      ...wt.map((w) =>
        el(
          "tr",
          {},
          el("th", { scope: "row", text: w.name || "—" }),
          el("td", { class: "num", text: minutesText(w.expected_minutes) }),
          el("td", { class: "num", text: minutesText(w.tracked_minutes) }),
          el("td", { class: "num", text: minutesText(w.overtime_minutes, true) }),
          el("td", { class: "num", text: minutesText(w.balance_minutes, true) }),
          el("td", { text: absenceText(w.absences) }),
        ),
      ),
    );

    $("#approvals").hidden = !perms.has("timesheet:approve");
    if (perms.has("timesheet:approve")) renderQueue();
  }

  // After a decision its row is gone: keyboard users go on to the next week waiting, or the heading.
  function focusQueue() {
    const next = [...document.querySelectorAll("#queue button.primary")].find((b) => !b.disabled);
    (next || $("#approve-h")).focus();
  }

  function renderQueue() {
    const qrows = board.awaiting_my_approval.map((sheet) => {
      const who = sheet.name || "someone";
      const approve = el("button", { type: "button", class: "primary", text: "Approve", "aria-label": `Approve ${who}'s week ${sheet.week}` });
      const reasonInput = el("input", { "aria-label": `Reason for sending back ${who}'s week`, placeholder: "Reason to send back", maxlength: "2000" });
      const reject = el("button", { type: "button", class: "danger", text: "Reject", "aria-label": `Reject ${who}'s week ${sheet.week}` });
      const own = sheet.user_id === ME;
      approve.disabled = own;
      reject.disabled = own;
      approve.addEventListener("click", () =>
        act(approve, async () => {
          await api("POST", `/orgs/${ORG}/timesheets/${sheet.id}/approve`);
          await load(week, true);
          showInfo(`Approved ${who}'s week ${sheet.week}.`);
          focusQueue();
        }),
      );
      reject.addEventListener("click", () =>
        act(reject, async () => {
          const reason = reasonInput.value.trim();
          if (!reason) throw new Error("Give a reason when sending a week back.");
          await api("POST", `/orgs/${ORG}/timesheets/${sheet.id}/reject`, { reason });
          await load(week, true);
          showInfo(`Sent ${who}'s week ${sheet.week} back.`);
          focusQueue();
        }),
      );
      // The week's entries as the approver will approve them: the duration counted (corrections
      // included) with what was logged beside it, so a corrected entry is seen before deciding.
      const detail = el("tr", { class: "corrections week-entries", id: `week-${sheet.id}`, hidden: true }, el("td", { colspan: 5 }));
      const show = el("button", { type: "button", text: "Entries", "aria-expanded": "false", "aria-controls": `week-${sheet.id}`, "aria-label": `Entries of ${who}'s week ${sheet.week}` });
      show.addEventListener("click", () =>
        act(show, async () => {
          if (!detail.hidden) {
            detail.hidden = true;
            show.setAttribute("aria-expanded", "false");
            return;
          }
          const [week, names] = await Promise.all([
            api("GET", `/orgs/${ORG}/timesheets?week=${sheet.week}&user_id=${sheet.user_id}`),
            projectNames(),
          ]);
          const items = week.entries
            .slice()
            .sort((a, b) => a.start_at.localeCompare(b.start_at))
            .map((e) => {
              const counted = e.corrected_duration_seconds ?? e.duration_seconds ?? 0;
              const corrected = counted !== (e.duration_seconds || 0);
              return el(
                "li",
                {},
                `${dayOf(e.start_local)} ${timeOf(e.start_local)}–${timeOf(e.end_local)} · ${names.get(e.project_id) || "—"}${e.description ? ` · ${e.description}` : ""} · `,
                el("strong", { text: duration(counted) }),
                corrected ? el("span", { class: "muted", text: ` (logged ${duration(e.duration_seconds || 0)}, corrected)` }) : "",
              );
            });
          detail.firstChild.replaceChildren(
            el("p", { text: `${who}'s week ${sheet.week}: ${hours(week.total_seconds)} h counted, corrections included (days in ${week.time_zone}).` }),
            el("ul", { class: "plain corr-list" }, ...(items.length ? items : [el("li", { class: "muted", text: "No entries." })])),
          );
          detail.hidden = false;
          show.setAttribute("aria-expanded", "true");
        }),
      );
      return [
        el(
          "tr",
          { "data-user": sheet.user_id },
          el("td", { text: who }),
          el("td", {}, el("a", { href: `/orgs/${ORG}/team?week=${sheet.week}`, text: sheet.week })),
          el("td", { text: sheet.submitted_at ? new Date(sheet.submitted_at).toLocaleString() : "" }),
          el("td", { text: absenceText(sheet.absences || []) || "none" }),
          el("td", { class: "actions" }, show, " ", own ? el("span", { class: "muted", text: "yours: someone else approves " }) : "", approve, " ", reasonInput, " ", reject),
        ),
        detail,
      ];
    });
    $("#queue tbody").replaceChildren(...(qrows.length ? qrows.flat() : [emptyRow(5, "Nothing waiting.")]));
  }

  // Budget burn of every project with a budget (this month's for monthly budgets).
  const report = await api("GET", `/orgs/${ORG}/reports/projects?tz=${encodeURIComponent(zone)}`);
  const budgets = report.projects.filter((p) => p.budget_amount !== null);
  $("#budgets tbody").replaceChildren(
    ...(budgets.length
      ? budgets.map((p) => {
          const percent = Number(p.burn_percent ?? 0);
          const unit = p.budget_kind === "hours" ? "h" : p.amounts[0]?.currency || "";
          const used = `${Number(p.budget_used ?? 0).toFixed(p.budget_kind === "hours" ? 1 : 2)} of ${Number(p.budget_amount).toFixed(p.budget_kind === "hours" ? 1 : 2)} ${unit}`;
          return el(
            "tr",
            { class: p.over_budget ? "over" : "" },
            el("th", { scope: "row" }, el("a", { href: `/orgs/${ORG}/projects/${p.project_id}`, text: p.name })),
            el("td", { text: `${p.budget_kind}${p.budget_period === "monthly" ? ", this month" : ""}` }),
            el("td", { text: used }),
            el("td", { class: "burn" }, el("span", { class: "meter", role: "img", "aria-label": `${percent.toFixed(0)} % used` }, el("span", { class: p.over_budget ? "fill over" : "fill", "data-percent": String(Math.min(100, percent)) })), ` ${percent.toFixed(0)} %${p.over_budget ? " over budget" : ""}`),
          );
        })
      : [emptyRow(4, "No project has a budget.")]),
  );
  // Widths through the CSSOM: the CSP forbids inline style attributes, not style properties set here.
  for (const fill of document.querySelectorAll("#budgets .fill")) fill.style.width = `${fill.dataset.percent}%`;

  await load();
}
