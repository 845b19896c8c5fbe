"""A custom import-linter contract (see ``[tool.importlinter]`` in pyproject.toml).

Domains may use each other only through their public service modules: ``backend.orgs.service`` is
fine from ``backend.members``, ``backend.orgs.models`` or ``backend.orgs.router`` is not.
"""

from __future__ import annotations

from typing import Any

from importlinter import Contract, ContractCheck, fields, output


class DomainBoundaryContract(Contract):
    domains = fields.ListField(subfield=fields.StringField())
    public_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        domains: list[str] = list(self.domains)  # type: ignore[call-overload]
        public = {str(name) for name in self.public_modules}  # type: ignore[attr-defined]
        violations: list[str] = []
        for owner in domains:
            for module in sorted({owner, *graph.find_descendants(owner)}):
                if module.rpartition(".")[2] in public:
                    continue
                for importer in sorted(graph.find_modules_that_directly_import(module)):
                    other = next((d for d in domains if importer == d or importer.startswith(d + ".")), None)
                    if other is not None and other != owner:
                        violations.append(f"{importer} imports {module}")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in (check.metadata or {}).get("violations", []):
            output.print_error(f"- {violation} (use its service functions instead)")


class JobLeafContract(Contract):
    """A domain's job module (``backend.<domain>.tasks``) imports its service and is imported only by the
    faces that run jobs (the worker's registry, the CLI, the bench): a service sends a job by its actor
    name, so ``service`` <-> ``tasks`` circles cannot form."""

    job_module = fields.StringField()
    allowed_importers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        leaf = str(self.job_module)
        allowed = {str(name) for name in self.allowed_importers}  # type: ignore[attr-defined]
        violations: list[str] = []
        for module in sorted(graph.modules):
            parts = module.split(".")
            if len(parts) != 3 or parts[2] != leaf:
                continue
            for importer in sorted(graph.find_modules_that_directly_import(module)):
                if importer not in allowed:
                    violations.append(f"{importer} imports {module}")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in (check.metadata or {}).get("violations", []):
            output.print_error(f"- {violation} (send the job by its actor name: jobs.send('name', ...))")
