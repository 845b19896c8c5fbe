// Absences: a person records and sees their own (vacation, sick, other; a half day for a single day);
// an admin, the auditor or a project lead also sees the team's, and an admin or lead deletes theirs.
// The API:
//   GET /orgs/{org}/worktime/absences?scope=mine|team&limit=&offset=    POST /orgs/{org}/worktime/absences
//   DELETE /orgs/{org}/worktime/absences/{id}

import { ORG, ME, $, api, el, showInfo, act, denied, pager, confirmTwice } from "./lib.js";

const LIMIT = 25;
const KINDS = { vacation: "Vacation", sick: "Sick", other: "Other" };

const days = (a) => (a.half_day ? 0.5 : Math.round((Date.parse(a.last_day) - Date.parse(a.first_day)) / 86400000) + 1);

export async function absencesPage(perms) {
  if (!perms.has("worktime:read")) {
    denied("You cannot see absences in this organization.");
    return;
  }
  const canRecord = !perms.readOnly && perms.has("absence:create");
  const seesTeam = perms.has("team_worktime:read");
  const manages = !perms.readOnly && perms.has("absence:manage");
  const form = $("#absence-form");
  form.hidden = !canRecord;
  $("#absence-scope").hidden = !seesTeam;

  function row(absence) {
    const actions = el("td", { class: "actions" });
    const mine = absence.user_id === ME;
    if ((mine && canRecord) || (!mine && manages)) {
      const del = el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete the absence from ${absence.first_day}` });
      confirmTwice(del, "Really delete?", `${KINDS[absence.kind]} from ${absence.first_day}`, async () => {
        await api("DELETE", `/orgs/${ORG}/worktime/absences/${absence.id}`);
        showInfo("The absence was deleted.");
        await list.reload();
      });
      actions.append(del);
    }
    return el(
      "tr",
      {},
      el("td", { text: mine ? "You" : absence.name || "—" }),
      el("td", {}, el("span", { class: `badge absence ${absence.kind}`, text: KINDS[absence.kind] })),
      el("td", { text: absence.first_day }),
      el("td", { text: absence.last_day }),
      el("td", { class: "num", text: String(days(absence)) }),
      el("td", { text: absence.note || "" }),
      actions,
    );
  }

  const list = pager($("#absences-pager"), LIMIT, async (offset, limit) => {
    const scope = $("#a-scope").value;
    $("#absences-h").textContent = scope === "team" ? "The team's absences" : "Your absences";
    const page = await api("GET", `/orgs/${ORG}/worktime/absences?scope=${scope}&limit=${limit}&offset=${offset}`);
    const rows = page.items.map(row);
    $("#absences tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No absences recorded." }))]));
    return page;
  });

  $("#a-scope").addEventListener("change", () => list.reload(true));
  $("#a-half").addEventListener("change", () => {
    if ($("#a-half").checked) $("#a-last").value = $("#a-first").value;
  });
  $("#a-first").addEventListener("change", () => {
    if (!$("#a-last").value || $("#a-half").checked || $("#a-last").value < $("#a-first").value) $("#a-last").value = $("#a-first").value;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#a-save"), async () => {
      const made = await api("POST", `/orgs/${ORG}/worktime/absences`, {
        kind: $("#a-kind").value,
        first_day: $("#a-first").value,
        last_day: $("#a-last").value,
        half_day: $("#a-half").checked,
        note: $("#a-note").value.trim(),
      });
      form.reset();
      showInfo(`${KINDS[made.kind]} from ${made.first_day} to ${made.last_day} is recorded.`);
      await list.reload(true);
    });
  });
  await list.reload(true);
}
