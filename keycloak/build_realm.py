"""Build the Keycloak import file for the ``worktime`` realm.

``realm.json`` is the production realm (no people in it).  ``realm.dev.json`` is an
overlay for development and tests (extra clients, demo users); ``--dev`` merges it on top.

Merge rules: dicts merge recursively; ``clients`` / ``users`` lists merge item-wise by
``clientId`` / ``username``; any other list is replaced.  Top-level keys starting with
``_`` (comments, ``_demoOrganizations`` read by the backend seed) are stripped, because
Keycloak rejects unknown properties.

``${ENV_VAR}`` / ``${ENV_VAR:default}`` placeholders are left as they are: Keycloak
resolves them when it imports the file.

Stdlib only, so the launcher can use it before any virtualenv exists:

    python keycloak/build_realm.py [--dev] --out PATH
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REALM_FILE = HERE / "realm.json"
DEV_OVERLAY_FILE = HERE / "realm.dev.json"

# List-valued keys merged element-wise by an identifying field instead of being replaced.
KEYED_LISTS = {"clients": "clientId", "users": "username"}


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: top level must be a JSON object")
    return data


def _merge_keyed(base: list[Any], overlay: list[Any], key: str) -> list[Any]:
    merged = [copy.deepcopy(item) for item in base]
    index = {item.get(key): i for i, item in enumerate(merged) if isinstance(item, dict)}
    for item in overlay:
        pos = index.get(item.get(key)) if isinstance(item, dict) else None
        if pos is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[pos] = merge(merged[pos], item)
    return merged


def merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Return a new dict: ``overlay`` merged onto ``base`` (inputs are not modified)."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        current = result.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            result[key] = merge(current, value)
        elif key in KEYED_LISTS and isinstance(current, list) and isinstance(value, list):
            result[key] = _merge_keyed(current, value, KEYED_LISTS[key])
        else:
            result[key] = copy.deepcopy(value)
    return result


def strip_private(realm: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in realm.items() if not k.startswith("_")}


def build_realm(dev: bool) -> dict[str, Any]:
    """The realm representation to import: production, or production + dev overlay."""
    realm = load(REALM_FILE)
    if dev:
        realm = merge(realm, load(DEV_OVERLAY_FILE))
    return strip_private(realm)


def demo_users() -> list[dict[str, str]]:
    """Demo people from the dev overlay: username, email, org, role, first/last name, id."""
    people = []
    for user in load(DEV_OVERLAY_FILE).get("users", []):
        attrs = user.get("attributes", {})
        if "demo_org" not in attrs:
            continue
        people.append(
            {
                "id": user["id"],
                "username": user["username"],
                "email": user["email"],
                "first_name": user.get("firstName", ""),
                "last_name": user.get("lastName", ""),
                "org": attrs["demo_org"][0],
                "role": attrs.get("demo_role", ["member"])[0],
            }
        )
    return people


def demo_organizations() -> list[dict[str, str]]:
    return list(load(DEV_OVERLAY_FILE).get("_demoOrganizations", []))


def write_realm(path: Path, dev: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(build_realm(dev), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", action="store_true", help="merge realm.dev.json (demo users, test clients)")
    parser.add_argument("--out", required=True, help="output path, '-' for stdout")
    args = parser.parse_args(argv)
    if args.out == "-":
        json.dump(build_realm(args.dev), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        write_realm(Path(args.out), args.dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
