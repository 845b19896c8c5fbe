// Exports: request one (kind, format, period, filters), watch its progress (GET /exports/{id} until it
// is done), download it through a signed link, and check it here in the browser: the file's SHA-256
// against the manifest, and the manifest's Ed25519 signature against the organization's signing key
// (GET /exports/signing-key) with WebCrypto, over the same canonical JSON the server signed.

import { ORG, $, api, allPages, el, showInfo, showError, act, pad, dayIn } from "./lib.js";
import { schedulesSection } from "./reminders.js";

const POLL_MS = 500;
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const unbase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// Python's json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False), without "signature".
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// What the browser can say about an export: its file's hash and its manifest's signature.
async function verify(exp, orgKey) {
  const manifest = exp.manifest;
  const result = { sha256: null, fileOk: false, signature: "unchecked", detail: "" };
  const response = await fetch(`/api/v1/orgs/${ORG}/exports/${exp.id}/download`, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`The file cannot be read (${response.status}).`);
  result.sha256 = hex(await crypto.subtle.digest("SHA-256", await response.arrayBuffer()));
  result.fileOk = result.sha256 === manifest.file.sha256;
  const signature = manifest.signature || {};
  if (signature.public_key !== orgKey.public_key) {
    result.signature = "invalid";
    result.detail = "The manifest was not signed with this organization's key.";
    return result;
  }
  const body = { ...manifest };
  delete body.signature;
  try {
    const key = await crypto.subtle.importKey("raw", unbase64(orgKey.public_key), { name: "Ed25519" }, false, ["verify"]);
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, unbase64(signature.value), new TextEncoder().encode(canonical(body)));
    result.signature = ok ? "valid" : "invalid";
    if (!ok) result.detail = "The manifest was changed after it was signed.";
  } catch (error) {
    if (error.name !== "NotSupportedError") throw error;
    result.detail = "This browser cannot check Ed25519 signatures; use `python -m backend export verify`.";
  }
  return result;
}

function progressOf(exp) {
  if (exp.status === "done") return 100;
  return Math.max(0, Math.min(100, Number(exp.progress.percent) || 0));
}

export async function exportsPage(perms) {
  if (!perms.has("export:create") && !perms.has("export:list")) {
    const main = $("#main");
    for (const node of [...main.children]) if (node.tagName !== "H1" && node.id !== "alert") node.hidden = true;
    main.append(el("p", { class: "note", text: "You cannot export time in this organization." }));
    return;
  }
  const [projects, members, board, orgKey] = await Promise.all([
    allPages(`/orgs/${ORG}/projects?include_archived=true`),
    // Only whoever exports everyone's time (managers up, auditors) picks people; a member's export is their own.
    perms.has("team_report:read") && perms.has("member:list") ? allPages(`/orgs/${ORG}/members`) : Promise.resolve([]),
    api("GET", `/orgs/${ORG}/dashboard`),
    api("GET", `/orgs/${ORG}/exports/signing-key`),
  ]);
  const zone = board.time_zone;
  const who = new Map(members.map((m) => [m.user_id, m.display_name || m.email]));
  $("#key-id").textContent = orgKey.key_id;
  $("#exp-zone").value = zone;
  $("#exp-projects").replaceChildren(...projects.map((p) => el("option", { value: p.id, text: p.name })));
  $("#people-label").hidden = members.length === 0;
  $("#exp-people").replaceChildren(...members.map((m) => el("option", { value: m.user_id, text: m.display_name || m.email })));
  $("#request-panel").hidden = !perms.has("export:create") || Boolean(perms.readOnly);

  // Default period: this month in the person's zone.
  const today = dayIn(new Date(), zone);
  const setMonth = (month) => {
    const [y, m] = month.split("-").map(Number);
    $("#exp-from").value = `${month}-01`;
    $("#exp-to").value = `${month}-${pad(new Date(Date.UTC(y, m, 0)).getUTCDate())}`;
  };
  $("#exp-month").value = today.slice(0, 7);
  setMonth(today.slice(0, 7));
  $("#exp-month").addEventListener("change", () => $("#exp-month").value && setMonth($("#exp-month").value));

  const verdicts = new Map();

  function verdictView(exp) {
    const v = verdicts.get(exp.id);
    const box = el("div", { class: "verdict" });
    box.append(el("div", {}, el("span", { class: "muted", text: "SHA-256 " }), el("code", { class: "hash", text: exp.sha256 || "—" })));
    if (!v) return box;
    box.append(
      el("div", { class: v.fileOk ? "ok" : "bad", text: v.fileOk ? "✓ The file matches the manifest." : `✗ The file does not match the manifest (its SHA-256 is ${v.sha256}).` }),
      el("div", {
        class: v.signature === "valid" ? "ok" : v.signature === "invalid" ? "bad" : "muted",
        "data-signature": v.signature,
        text:
          v.signature === "valid"
            ? `✓ Signature verified (Ed25519, key ${exp.manifest.signature.key_id}).`
            : v.signature === "invalid"
              ? `✗ Signature NOT valid. ${v.detail}`
              : `Signature not checked. ${v.detail}`,
      }),
    );
    return box;
  }

  function actions(exp) {
    const cell = el("td", { class: "actions" });
    if (exp.status !== "done") return cell;
    const download = el("button", { type: "button", class: "primary", text: "Download", "aria-label": `Download ${exp.manifest.file.name}` });
    download.addEventListener("click", () =>
      act(download, async () => {
        const link = await api("GET", `/orgs/${ORG}/exports/${exp.id}/link`);
        const a = el("a", { href: link.url, download: exp.manifest.file.name, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
      }),
    );
    const check = el("button", { type: "button", text: "Verify", "aria-label": `Verify ${exp.manifest.file.name}` });
    check.addEventListener("click", () =>
      act(check, async () => {
        verdicts.set(exp.id, await verify(exp, orgKey));
        await load();
      }),
    );
    cell.append(download, " ", check);
    return cell;
  }

  function statusCell(exp) {
    const percent = progressOf(exp);
    const label = exp.status === "failed" ? `failed: ${exp.error || "see the logs"}` : exp.status === "done" ? `done, ${exp.progress.rows_done} rows` : `${exp.status}, ${exp.progress.rows_done} of ${exp.progress.rows_total || "?"} rows`;
    return el(
      "td",
      { class: "status" },
      el("progress", { max: "100", value: String(percent), "aria-label": `Export progress ${percent.toFixed(0)} %` }),
      el("span", { class: `badge ${exp.status}`, text: label }),
    );
  }

  async function load() {
    const page = await api("GET", `/orgs/${ORG}/exports?limit=20`);
    const rows = page.items.map((exp) => {
      const row = el(
        "tr",
        { "data-export": exp.id },
        el("td", { text: when(exp.created_at) }),
        el("td", { text: `${exp.kind} · ${exp.format.toUpperCase()}` }),
        el("td", { text: `${exp.period_start} to ${exp.period_end}` }),
        el("td", { text: exp.requested_by === document.body.dataset.user ? "you" : who.get(exp.requested_by) || exp.requested_by.slice(0, 8) }),
        statusCell(exp),
        actions(exp),
      );
      const detail = exp.status === "done" ? el("tr", { class: "detail" }, el("td", { colspan: 6 }, verdictView(exp))) : null;
      return detail ? [row, detail] : [row];
    });
    $("#exports tbody").replaceChildren(...(rows.length ? rows.flat() : [el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No exports yet." }))]));
    return page.items;
  }

  // Poll one export until it is finished; the progress bar and row counts follow.
  async function watch(id) {
    const bar = $("#current-progress");
    const text = $("#current-status");
    $("#current").hidden = false;
    for (;;) {
      const exp = await api("GET", `/orgs/${ORG}/exports/${id}`);
      bar.value = progressOf(exp);
      text.textContent =
        exp.status === "done"
          ? `Done: ${exp.progress.rows_done} rows, ${exp.size_bytes} bytes.`
          : exp.status === "failed"
            ? `Failed: ${exp.error || "the worker could not make it."}`
            : `${exp.status === "queued" ? "Queued" : "Running"}: ${exp.progress.rows_done} of ${exp.progress.rows_total || "?"} rows (${progressOf(exp).toFixed(0)} %).`;
      if (exp.status === "done") {
        verdicts.set(exp.id, await verify(exp, orgKey));
        return exp;
      }
      if (exp.status === "failed" || exp.status === "expired") return exp;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  $("#export-form").addEventListener("submit", (event) => {
    event.preventDefault();
    act($("#export-request"), async () => {
      const billable = $("#exp-billable").value;
      const data = {
        kind: $("#exp-kind").value,
        format: $("#exp-format").value,
        from: $("#exp-from").value,
        to: $("#exp-to").value,
        time_zone: $("#exp-zone").value.trim() || zone,
        project_ids: [...$("#exp-projects").selectedOptions].map((o) => o.value),
        user_ids: [...$("#exp-people").selectedOptions].map((o) => o.value),
        billable: billable === "" ? null : billable === "yes",
      };
      const created = await api("POST", `/orgs/${ORG}/exports`, data);
      await load();
      const done = await watch(created.id);
      await load();
      if (done.status === "done") showInfo(`Your export is ready: ${done.manifest.file.name}.`);
      else throw new Error($("#current-status").textContent);
    });
  });

  // Exports still being made when the page opens are watched too.
  const items = await load();
  const pending = items.find((e) => e.status === "queued" || e.status === "running");
  if (pending) watch(pending.id).then(load).catch(showError);
  await schedulesSection(perms, zone);
}
