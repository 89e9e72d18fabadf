"""The image, compose file, Kubernetes manifests and systemd units agree with the code: the
image name and version, the port the configuration gives, the probes' routes, the settings'
variable names, the user, and the commands they run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def version() -> str:
    text = (ROOT / "Cargo.toml").read_text()
    match = re.search(r'^\[workspace\.package\]\nversion = "([^"]+)"', text, re.M)
    assert match, "workspace version"
    return match.group(1)


def run(cli: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RETENTIONAI_", "RETENTION_DB"))}
    return subprocess.run([cli, *args], env={**clean, **(env or {})}, capture_output=True, text=True)


def manifests() -> dict[str, dict]:
    docs = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


@pytest.fixture(scope="module")
def served_port(cli: str) -> int:
    """The port `retention serve` listens on with the image's configuration file."""
    out = run(cli, "config", "show", "--json", env={"RETENTIONAI_CONFIG": str(DEPLOY / "config.toml")})
    assert out.returncode == 0, out.stderr
    settings = {s["key"]: s for s in json.loads(out.stdout)["settings"]}
    assert settings["serve.port"]["source"].startswith("file ")
    assert settings["serve.host"]["value"] == "0.0.0.0"
    return int(settings["serve.port"]["value"])


def routes() -> set[str]:
    text = (ROOT / "retention-cli" / "src" / "serve" / "mod.rs").read_text()
    return set(re.findall(r'\.route\("([^"]+)"', text))


def test_the_kubernetes_deployment_matches_the_service(cli: str, served_port: int) -> None:
    docs = manifests()
    assert {"Deployment", "Service", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "CronJob"} <= docs.keys()
    deployment = docs["Deployment"]
    assert deployment["metadata"]["name"] == "retentionai-app"  # the runbook's kubectl commands
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    assert spec["enableServiceLinks"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    (container,) = spec["containers"]
    assert container["image"] == f"localhost/retentionai:{version()}"
    assert container["args"] == ["serve"]
    (port,) = container["ports"]
    assert port["containerPort"] == served_port
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(served_port)
    assert pod["metadata"]["annotations"]["prometheus.io/path"] in routes()
    assert container["livenessProbe"]["httpGet"]["path"] == "/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert {"/live", "/ready", "/metrics"} <= routes()
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == port["name"]
    # Every variable is a setting the program knows, with a value it accepts.
    env = {e["name"]: e["value"] for e in container["env"]}
    env["RETENTIONAI_CONFIG"] = str(DEPLOY / "config.toml")
    checked = run(cli, "config", "check", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "not a RetentionAI setting" not in checked.stderr
    assert int(env["RETENTIONAI_PORT"]) == served_port
    # The volume is the claim, mounted where the database lives.
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == "/var/lib/retentionai"
    assert spec["volumes"][0]["persistentVolumeClaim"]["claimName"] == docs["PersistentVolumeClaim"]["metadata"]["name"]
    service = docs["Service"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["port"] == served_port


def test_the_autoscaler_and_the_backup_job_use_what_the_program_has(cli: str) -> None:
    docs = manifests()
    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"]
    metric = hpa["spec"]["metrics"][0]["pods"]["metric"]["name"]
    metrics_rs = (ROOT / "retention-cli" / "src" / "serve" / "metrics.rs").read_text()
    assert f'"{metric}"' in metrics_rs
    job = docs["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = job["containers"]
    assert container["image"] == f"localhost/retentionai:{version()}"
    args = container["args"]
    assert args[0] == "backup"
    help_text = run(cli, "backup", "--help").stdout
    for flag in (a for a in args if a.startswith("--")):
        assert flag in help_text, flag
    assert docs["CronJob"]["spec"]["schedule"].split()[1] == "*", "hourly for a one-hour recovery point"


def rendered(overlay: str) -> dict[str, dict]:
    """The manifests `kubectl apply -k` would apply, as kustomize renders them."""
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl renders the kustomizations: install it (Debian: apt-get install kubernetes-client)")
    out = subprocess.run(["kubectl", "kustomize", str(DEPLOY / overlay)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return {doc["kind"]: doc for doc in yaml.safe_load_all(out.stdout)}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container["env"]}


def test_the_base_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())["resources"]
    files = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(files)
    base = rendered("k8s")
    assert base == {k: v for k, v in manifests().items() if k != "Kustomization"}


def test_the_postgres_overlay_scales_out_on_a_shared_store(cli: str) -> None:
    base, scaled = rendered("k8s"), rendered("k8s-postgres")
    assert scaled.keys() == base.keys()
    deployment = scaled["Deployment"]["spec"]
    # The autoscaler owns the count: an apply must not reset it.
    assert "replicas" not in deployment
    assert deployment["strategy"]["type"] == "RollingUpdate"
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    spec = deployment["template"]["spec"]
    (container,) = spec["containers"]
    # A stopping pod serves while the Service takes it out of rotation, within the grace period.
    pause = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pause[0] == "sleep" and int(pause[1]) < spec["terminationGracePeriodSeconds"]
    # The URL (with its password) comes from a Secret, never a literal in the manifest.
    db = env_of(container)["RETENTIONAI_DB"]
    assert "value" not in db
    assert db["valueFrom"]["secretKeyRef"] == {"name": "retentionai-db", "key": "url"}
    # No replica holds the ReadWriteOnce claim.
    assert all("persistentVolumeClaim" not in v for v in spec["volumes"])
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert mounts <= {v["name"] for v in spec["volumes"]}
    # Everything else is the base's: image, probes, ports, the other settings.
    (base_container,) = base["Deployment"]["spec"]["template"]["spec"]["containers"]
    for key in ("image", "args", "ports", "livenessProbe", "readinessProbe", "securityContext"):
        assert container[key] == base_container[key], key
    others = {k: v for k, v in env_of(container).items() if k != "RETENTIONAI_DB"}
    assert others == {k: v for k, v in env_of(base_container).items() if k != "RETENTIONAI_DB"}
    hpa = scaled["HorizontalPodAutoscaler"]["spec"]
    assert hpa["maxReplicas"] > hpa["minReplicas"] >= 2
    assert hpa["metrics"] == base["HorizontalPodAutoscaler"]["spec"]["metrics"]
    job = scaled["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert "affinity" not in job
    (backup,) = job["containers"]
    assert env_of(backup)["RETENTIONAI_DB"] == db
    # Its archives go to the volume claim, mounted where the arguments write.
    (claim,) = [v for v in job["volumes"] if "persistentVolumeClaim" in v]
    assert claim["persistentVolumeClaim"]["claimName"] == scaled["PersistentVolumeClaim"]["metadata"]["name"]
    (mount,) = [m for m in backup["volumeMounts"] if m["name"] == claim["name"]]
    assert backup["args"][backup["args"].index("--out") + 1].startswith(mount["mountPath"] + "/")
    assert backup["args"] == base["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    # A PostgreSQL URL in the variable is a value the program accepts.
    env = {k: v["value"] for k, v in others.items()}
    env["RETENTIONAI_CONFIG"] = str(DEPLOY / "config.toml")
    env["RETENTIONAI_DB"] = "postgres://retentionai:secret@db.internal:5432/retentionai"
    shown = run(cli, "config", "show", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "secret" not in shown.stdout


def test_the_containerfile_compose_and_systemd_units_agree(served_port: int) -> None:
    containerfile = (ROOT / "Containerfile").read_text()
    assert f"EXPOSE {served_port}" in containerfile
    assert re.search(r"^USER 10001:10001$", containerfile, re.M)
    assert "HEALTHCHECK" in containerfile and "/live" in containerfile
    assert 'CMD ["serve"]' in containerfile
    assert manifests()["Deployment"]["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert services["serve"]["image"] == f"localhost/retentionai:{version()}"
    assert services["serve"]["ports"] == [f"{served_port}:{served_port}"]
    assert services["app"]["image"] == f"localhost/retentionai-app:{version()}"
    assert {"prometheus", "grafana", "backup"} <= services.keys()
    scrape = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == [f"serve:{served_port}"]
    for mounted in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        source = mounted.split(":")[0]
        assert (DEPLOY / source).exists(), source
    unit = (DEPLOY / "systemd" / "retentionai.service").read_text()
    assert "ExecStart=/usr/local/bin/retention serve" in unit
    timer = (DEPLOY / "systemd" / "retentionai-backup.timer").read_text()
    assert "OnCalendar=hourly" in timer
