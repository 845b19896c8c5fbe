"""axe-core in the browser tests: run Deque's accessibility engine on the page as it is now and fail on
what it finds.

``tests/web/vendor/axe.min.js`` is axe-core 4.14.1 from npm (``npm pack axe-core@4``; MPL-2.0, its
LICENSE and LICENSE-3RD-PARTY.txt beside it), vendored so the tests need no network. It is evaluated
through Playwright (the DevTools protocol), which the pages' strict CSP (``script-src 'self'``) does not
govern: the page itself runs exactly as it does for people.

What fails a test: every violation of impact **serious** or **critical** under the WCAG 2.0/2.1/2.2 A and
AA rules and axe's best practices. Moderate and minor findings are reported in the failure message of a
serious one but do not fail on their own (``impacts=ALL`` makes them fail too).

No rule is disabled. ``color-contrast`` is left on: it checks the real rendered colours, including the
dark header and the badges. Pass ``disable=("rule-id",)`` only with a comment saying why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice")
FAILING = ("serious", "critical")
ALL = ("minor", "moderate", "serious", "critical")

_RUN = """async ({ tags, disable, include }) => {
  const rules = Object.fromEntries(disable.map((id) => [id, { enabled: false }]));
  const context = include ? { include: [include] } : document;
  const result = await axe.run(context, { runOnly: { type: "tag", values: tags }, rules, resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    url: v.helpUrl,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), html: n.html.slice(0, 200), summary: n.failureSummary })),
  }));
}"""


def axe_violations(
    page: Any, *, include: str | None = None, disable: tuple[str, ...] = (), impacts: tuple[str, ...] = ALL
) -> list[dict[str, Any]]:
    """axe's violations on the page (or within the ``include`` selector) of the given impacts."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        _RUN, {"tags": list(TAGS), "disable": list(disable), "include": include}
    )
    return [v for v in found if v["impact"] in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['url']}>")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html']}")
            lines.append(f"      {' '.join(str(node['summary']).split())}")
    return "\n".join(lines)


def assert_accessible(
    page: Any,
    what: str = "",
    *,
    include: str | None = None,
    disable: tuple[str, ...] = (),
    impacts: tuple[str, ...] = FAILING,
) -> None:
    """Fail with axe's findings if the page has violations of the given impacts (serious and critical by
    default); the less severe ones found alongside are listed too, for context."""
    everything = axe_violations(page, include=include, disable=disable)
    failing = [v for v in everything if v["impact"] in impacts]
    if failing:
        others = [v for v in everything if v not in failing]
        message = f"axe found accessibility violations on {what or page.url}:\n{describe(failing)}"
        if others:
            message += f"\nalso (not failing):\n{describe(others)}"
        raise AssertionError(message)
