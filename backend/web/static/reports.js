// Reports explorer: the time report (GET /reports/time) with its filters and two-level grouping, a chart
// and a table of the same figures, the view in the address bar (bookmark it, send it to a colleague),
// saved reports with their share links, and "export this view" (POST /exports with the same filters).

import { ORG, ME, $, api, allPages, el, showInfo, act, hours, dayIn } from "./lib.js";
import { barChart } from "./charts.js";

const GROUPS = [
  ["project", "Project"],
  ["client", "Client"],
  ["user", "Person"],
  ["task", "Task"],
  ["tag", "Tag"],
  ["day", "Day"],
  ["week", "Week"],
  ["month", "Month"],
];
const GROUP_NAME = new Map(GROUPS);
const NONE_LABEL = { project: "No project", client: "No client", user: "Someone", task: "No task", tag: "No tag" };
const SCOPES = {
  organization: "Everyone's time in the organization.",
  led_projects: "Time on the projects you lead, and your own.",
  own: "Your own time.",
};

const selected = (select) => [...select.selectedOptions].map((o) => o.value);
const choose = (select, values) => {
  const wanted = new Set(values);
  for (const option of select.options) option.selected = wanted.has(option.value);
};
const money = (amounts) =>
  amounts.map((a) => `${Number(a.amount).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${a.currency}`).join(", ");

// A report query (the shape saved reports keep) <-> query-string parameters (arrays repeat their key).
function toParams(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) for (const item of value) params.append(key, item);
    else if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  return params;
}

function fromParams(params) {
  const billable = params.get("billable");
  return {
    from: params.get("from") || undefined,
    to: params.get("to") || undefined,
    range: params.get("range") || undefined,
    tz: params.get("tz") || undefined,
    group_by: params.getAll("group_by"),
    project_id: params.getAll("project_id"),
    client_id: params.getAll("client_id"),
    user_id: params.getAll("user_id"),
    tag: params.getAll("tag"),
    billable: billable === null ? null : billable === "true",
  };
}

function readForm(zone) {
  const range = $("#r-range").value;
  const billable = $("#r-billable").value;
  const group_by = [$("#r-group1").value, $("#r-group2").value].filter(Boolean);
  const query = {
    tz: $("#r-zone").value.trim() || zone,
    group_by: [...new Set(group_by)],
    project_id: selected($("#r-projects")),
    client_id: selected($("#r-clients")),
    user_id: selected($("#r-people")),
    tag: $("#r-tags").value.split(",").map((t) => t.trim()).filter(Boolean),
    billable: billable === "" ? null : billable === "yes",
  };
  if (range) query.range = range;
  else Object.assign(query, { from: $("#r-from").value, to: $("#r-to").value });
  return query;
}

function fillForm(query, zone) {
  $("#r-range").value = query.range || "";
  if (query.from) $("#r-from").value = query.from;
  if (query.to) $("#r-to").value = query.to;
  $("#r-zone").value = query.tz || zone;
  $("#r-group1").value = query.group_by?.[0] || "";
  $("#r-group2").value = query.group_by?.[1] || "";
  choose($("#r-projects"), query.project_id || []);
  choose($("#r-clients"), query.client_id || []);
  choose($("#r-people"), query.user_id || []);
  $("#r-tags").value = (query.tag || []).join(", ");
  $("#r-billable").value = query.billable === true ? "yes" : query.billable === false ? "no" : "";
  togglePeriod();
}

function togglePeriod() {
  const custom = $("#r-range").value === "";
  $("#r-from-label").hidden = !custom;
  $("#r-to-label").hidden = !custom;
  $("#r-from").required = custom;
  $("#r-to").required = custom;
}

function groupLabel(group) {
  return group.label || (group.key === null ? NONE_LABEL[group.by] || "—" : group.key);
}

function figureCells(figures) {
  return [
    el("td", { class: "num", text: hours(figures.duration_seconds) }),
    el("td", { class: "num", text: hours(figures.billable_seconds) }),
    el("td", { class: "num", text: String(figures.entries) }),
    el("td", { class: "num", text: money(figures.amounts) }),
  ];
}

function render(report) {
  const levels = report.group_by;
  $("#r-group-col").textContent = levels.length ? levels.map((g) => GROUP_NAME.get(g)).join(" › ") : "Period";
  const rows = [];
  for (const group of report.groups) {
    rows.push(el("tr", { class: levels.length > 1 ? "level1" : "" }, el("th", { scope: "row", text: groupLabel(group) }), ...figureCells(group)));
    for (const inner of group.groups) {
      rows.push(el("tr", { class: "level2" }, el("th", { scope: "row" }, el("span", { class: "sr", text: `${groupLabel(group)}, ` }), groupLabel(inner)), ...figureCells(inner)));
    }
  }
  if (!levels.length && report.totals.entries) {
    rows.push(el("tr", {}, el("th", { scope: "row", text: "The whole period" }), ...figureCells(report.totals)));
  }
  $("#r-table tbody").replaceChildren(
    ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "5", class: "muted", text: "No time matches these filters." }))]),
  );
  const totals = report.totals;
  $("#r-total-hours").textContent = hours(totals.duration_seconds);
  $("#r-total-billable").textContent = hours(totals.billable_seconds);
  $("#r-total-entries").textContent = String(totals.entries);
  $("#r-total-amount").textContent = money(totals.amounts);
  const first = dayIn(new Date(report.period_start), report.time_zone);
  const last = dayIn(new Date(Date.parse(report.period_end) - 1), report.time_zone);
  $("#r-summary").textContent =
    `${first} to ${last} (${report.time_zone}): ${hours(totals.duration_seconds)} h in ${totals.entries} entries, ` +
    `${hours(totals.billable_seconds)} h billable${totals.amounts.length ? `, ${money(totals.amounts)}` : ""}.`;
  $("#scope-note").textContent = SCOPES[report.scope];
  const chartRows = report.groups.map((g) => ({ label: groupLabel(g), value: g.duration_seconds / 3600 }));
  $("#r-chart").hidden = !levels.length;
  barChart($("#r-chart"), chartRows, "h", "No time matches these filters.");
  return { first, last };
}

export async function reportsPage(perms) {
  if (!perms.has("report:read")) {
    const main = $("#main");
    for (const node of [...main.children]) if (node.tagName !== "H1" && node.id !== "alert") node.hidden = true;
    main.append(el("p", { class: "note", text: "You cannot read reports in this organization." }));
    return;
  }
  const everyone = perms.has("team_report:read") && perms.has("member:list");
  const [projects, clients, members, board] = await Promise.all([
    allPages(`/orgs/${ORG}/projects?include_archived=true`),
    perms.has("client:list") ? allPages(`/orgs/${ORG}/clients`) : Promise.resolve([]),
    everyone ? allPages(`/orgs/${ORG}/members`) : Promise.resolve([]),
    api("GET", `/orgs/${ORG}/dashboard`),
  ]);
  const zone = board.time_zone;
  const levelOptions = (blank) => [el("option", { value: "", text: blank }), ...GROUPS.map(([value, text]) => el("option", { value, text }))];
  $("#r-group1").replaceChildren(...levelOptions("Nothing (totals)"));
  $("#r-group2").replaceChildren(...levelOptions("Nothing"));
  $("#r-projects").replaceChildren(...projects.map((p) => el("option", { value: p.id, text: p.archived_at ? `${p.name} (archived)` : p.name })));
  $("#r-clients").replaceChildren(...clients.map((c) => el("option", { value: c.id, text: c.name })));
  $("#r-clients-label").hidden = clients.length === 0;
  $("#r-people").replaceChildren(...members.map((m) => el("option", { value: m.user_id, text: m.display_name || m.email })));
  $("#r-people-label").hidden = members.length === 0;
  $("#r-range").addEventListener("change", togglePeriod);

  let shown = null; // the query on screen and its resolved days, for saving and exporting
  async function run(query, { record = true } = {}) {
    const report = await api("GET", `/orgs/${ORG}/reports/time?${toParams(query)}`);
    const days = render(report);
    shown = { query, ...days };
    if (record) history.replaceState(null, "", `?${toParams(query)}`);
  }

  // The view in the address bar, else this month grouped by project, then person where everyone is visible.
  const asked = new URLSearchParams(location.search);
  const initial = asked.has("from") || asked.has("range")
    ? fromParams(asked)
    : { range: "this_month", tz: zone, group_by: everyone ? ["project", "user"] : ["project"] };
  fillForm(initial, zone);
  await run(readForm(zone), { record: asked.size > 0 });

  $("#report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#r-run"), () => run(readForm(zone)));
  });

  // Export this view: every entry behind the figures, with the same filters.
  $("#export-view").hidden = !perms.has("export:create") || Boolean(perms.readOnly);
  $("#export-view-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#ev-request"), async () => {
      const { query, first, last } = shown;
      const created = await api("POST", `/orgs/${ORG}/exports`, {
        kind: "detailed",
        format: $("#ev-format").value,
        from: first,
        to: last,
        time_zone: query.tz,
        project_ids: query.project_id,
        user_ids: query.user_id,
        client_ids: query.client_id,
        tags: query.tag,
        billable: query.billable,
      });
      const link = el("a", { href: `/orgs/${ORG}/exports`, text: "Exports page" });
      showInfo(`Export requested (${created.format.toUpperCase()}, ${first} to ${last}). Follow it on the `);
      $("#alert").append(link, ".");
    });
  });

  if (perms.has("saved_report:list")) await savedReports(perms, zone, run);
}

async function savedReports(perms, zone, run) {
  $("#saved-panel").hidden = false;
  const canSave = perms.has("saved_report:create") && !perms.readOnly;
  const canShare = perms.has("saved_report:share") && !perms.readOnly;
  $("#save-form").hidden = !canSave;
  $("#save-shared-label").hidden = !canShare;
  let reports = [];

  async function reload(selectId = "") {
    reports = await api("GET", `/orgs/${ORG}/saved-reports`);
    $("#saved-list").replaceChildren(
      el("option", { value: "", text: reports.length ? "Choose a saved report…" : "No saved reports yet" }),
      ...reports.map((r) => el("option", { value: r.id, text: r.shared && r.owner_id !== ME ? `${r.name} (shared)` : r.name })),
    );
    $("#saved-list").value = selectId;
    update();
  }

  const current = () => reports.find((r) => r.id === $("#saved-list").value);
  function update() {
    const report = current();
    const mine = report && (report.owner_id === ME || perms.has("saved_report:manage"));
    $("#saved-delete").hidden = !mine || Boolean(perms.readOnly);
    $("#saved-link").hidden = !report || !canShare || report.owner_id !== ME;
    $("#saved-link-out").hidden = true;
  }

  $("#saved-list").addEventListener("change", () =>
    act(null, async () => {
      update();
      const report = current();
      if (!report) return;
      fillForm(report.query, zone);
      $("#save-name").value = report.name;
      await run(report.query);
    }),
  );
  $("#save-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#save-run"), async () => {
      const created = await api("POST", `/orgs/${ORG}/saved-reports`, {
        name: $("#save-name").value.trim(),
        query: readForm(zone),
        shared: canShare && $("#save-shared").checked,
      });
      await reload(created.id);
      showInfo(`Saved “${created.name}”.`);
    });
  });
  $("#saved-delete").addEventListener("click", () =>
    act($("#saved-delete"), async () => {
      const report = current();
      if (!report || !confirm(`Delete the saved report “${report.name}”? Its share links stop working.`)) return;
      await api("DELETE", `/orgs/${ORG}/saved-reports/${report.id}`);
      await reload();
      showInfo(`Deleted “${report.name}”.`);
    }),
  );
  $("#saved-link").addEventListener("click", () =>
    act($("#saved-link"), async () => {
      const report = current();
      const link = await api("POST", `/orgs/${ORG}/saved-reports/${report.id}/links`, {});
      const out = $("#saved-link-out");
      out.replaceChildren(
        "Anyone with this link sees the report's live figures (read-only) until ",
        new Date(link.expires_at).toLocaleDateString(),
        ". It is shown only now: ",
        el("a", { href: link.url, text: link.url, id: "saved-link-url" }),
      );
      out.hidden = false;
    }),
  );
  await reload();
}
