"""The Helm chart as an SRE reviews it: rendered by helm, then every workload, probe, hook and secret checked."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "worktime"
ALL_ON = CHART / "ci" / "all-on-values.yaml"
HELM = ROOT / ".tools" / "helm-v3.21.4" / "helm"
KUBE_VERSION = "1.37.0"

Manifest = dict[str, Any]


def helm_template(*args: str) -> subprocess.CompletedProcess[str]:
    if not HELM.exists():
        pytest.fail(f"{HELM} is missing: run `make helm`")
    return subprocess.run(
        [str(HELM), "template", "worktime", str(CHART), "--kube-version", KUBE_VERSION, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def render(*args: str) -> list[Manifest]:
    result = helm_template(*args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=["default", "all-on"])
def manifests(request: pytest.FixtureRequest) -> list[Manifest]:
    return render() if request.param == "default" else render("-f", str(ALL_ON))


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str, suffix: str) -> Manifest:
    found = [m for m in of_kind(manifests, kind) if m["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"{kind} *{suffix}: {[m['metadata']['name'] for m in of_kind(manifests, kind)]}"
    return found[0]


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    return [
        (f"{m['kind']}/{m['metadata']['name']}", m["spec"]["template"]["spec"])
        for m in manifests
        if m["kind"] in ("Deployment", "Job")
    ]


def test_every_container_is_locked_down(manifests: list[Manifest]) -> None:
    specs = pod_specs(manifests)
    assert {name.split("/")[0] for name, _ in specs} == {"Deployment", "Job"}
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        tmp = [v for v in spec["volumes"] if v["name"] == "tmp"]
        assert tmp and "emptyDir" in tmp[0], name
        for container in spec["containers"] + spec.get("initContainers", []):
            where = f"{name} container {container['name']}"
            ctx = container["securityContext"]
            assert ctx["runAsNonRoot"] is True, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in ctx["capabilities"], where
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault", where
            assert {"mountPath": "/tmp", "name": "tmp"} in container["volumeMounts"], where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), where


def test_api_probes_hit_the_health_routes_on_the_served_port(manifests: list[Manifest]) -> None:
    api = named(manifests, "Deployment", "-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    assert container["args"][:4] == ["python", "-m", "backend", "serve"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    (port,) = container["ports"]
    config = named(manifests, "ConfigMap", "worktime")["data"]
    assert port["name"] == "http" and str(port["containerPort"]) == config["WORKTIME_API_PORT"]
    assert config["WORKTIME_API_HOST"] == "0.0.0.0"  # reachable from the kubelet and the Service
    service = named(manifests, "Service", "worktime")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()


def test_worker_runs_the_worker_command(manifests: list[Manifest]) -> None:
    worker = named(manifests, "Deployment", "-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert container["args"][:4] == ["python", "-m", "backend", "worker"]
    assert "readinessProbe" not in container  # no Service in front of workers


def test_migration_is_a_pre_install_and_pre_upgrade_hook(manifests: list[Manifest]) -> None:
    job = named(manifests, "Job", "-migrate")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    spec = job["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["args"] == ["python", "-m", "backend", "migrate"]
    assert spec["restartPolicy"] == "Never"
    # What the job reads must exist before it: a hook Secret with a lower weight, not the release's Secret.
    (source,) = container["envFrom"]
    secret = named(manifests, "Secret", source["secretRef"]["name"])
    secret_annotations = secret["metadata"]["annotations"]
    assert set(secret_annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert int(secret_annotations["helm.sh/hook-weight"]) < int(annotations.get("helm.sh/hook-weight", "0"))
    assert {"WORKTIME_DATABASE_OWNER_URL", "WORKTIME_DATABASE_URL"} <= set(secret["data"])


def test_no_secret_value_is_in_the_config_map(manifests: list[Manifest]) -> None:
    config = named(manifests, "ConfigMap", "worktime")["data"]
    secret = named(manifests, "Secret", "worktime")["data"]
    values = {base64.b64decode(v).decode() for v in secret.values()}
    assert "WORKTIME_DATABASE_URL" in secret and "WORKTIME_REDIS_URL" in secret
    for key, value in config.items():
        assert key not in secret, key
        assert value not in values, key
        assert not any(word in key for word in ("SECRET", "PASSWORD", "TOKEN", "KEYS")), key
    # The API and the workers read both.
    for deployment in of_kind(manifests, "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs = sorted((kind, ref["name"]) for entry in container["envFrom"] for kind, ref in entry.items())
        assert refs == [("configMapRef", "worktime"), ("secretRef", "worktime")]


def test_a_secret_setting_under_config_is_refused() -> None:
    result = helm_template("--set", "config.SMTP_PASSWORD=hunter2")
    assert result.returncode != 0
    assert "config.SMTP_PASSWORD is a secret setting" in result.stderr


def test_availability_objects_match_their_deployments(manifests: list[Manifest]) -> None:
    for pdb in of_kind(manifests, "PodDisruptionBudget"):
        target = named(manifests, "Deployment", pdb["metadata"]["name"].rsplit("-", 1)[-1])
        labels = target["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for hpa in of_kind(manifests, "HorizontalPodAutoscaler"):
        target = named(manifests, "Deployment", hpa["spec"]["scaleTargetRef"]["name"])
        assert "replicas" not in target["spec"]  # the HPA owns the count
    policies = {p["metadata"]["name"].rsplit("-", 1)[-1]: p for p in of_kind(manifests, "NetworkPolicy")}
    assert set(policies) == {"api", "worker", "migrate"}
    for component, policy in policies.items():
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"], component
    assert policies["migrate"]["spec"]["ingress"] == []


def test_all_on_renders_ingress_tls_and_shared_exports() -> None:
    manifests = render("-f", str(ALL_ON))
    ingress = named(manifests, "Ingress", "worktime")
    assert ingress["spec"]["tls"][0]["hosts"] == ["worktime.example.com"]
    assert len(of_kind(manifests, "HorizontalPodAutoscaler")) == 2
    for deployment in of_kind(manifests, "Deployment"):
        (exports,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "exports"]
        assert exports["persistentVolumeClaim"]["claimName"] == "worktime-exports"
    assert of_kind(render(), "Ingress") == []


def test_chart_lints_and_validates_against_the_kubernetes_schemas() -> None:
    result = subprocess.run(["make", "-s", "helm-check"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_without_build_tools_as_a_numeric_non_root_user() -> None:
    # No docker daemon here: read the Dockerfile's final stage, the one the chart runs.
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    stages = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    assert len(stages) >= 2, "a builder stage and a final stage"
    builder = " ".join(lines[stages[0] : stages[-1]])
    final = lines[stages[-1] :]
    assert "uv sync --locked --no-dev" in builder
    assert final[0].startswith("FROM python:") and "slim" in final[0]
    instructions = " ".join(final)
    for tool in ("install uv", "uv sync", "apt-get install", "gcc", "build-essential"):
        assert tool not in instructions, tool
    assert "pip uninstall" in instructions
    copies = [line for line in final if line.startswith(("COPY", "ADD"))]
    assert copies and all("--from=builder" in line for line in copies), copies
    (user,) = [line.split()[1] for line in final if line.startswith("USER ")]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so Kubernetes' runAsNonRoot can check it
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == int(uid)
