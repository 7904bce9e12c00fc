"""deploy/: the Kubernetes manifests, the Dockerfile and the systemd unit.

The manifests are parsed (python3-yaml) and checked for what the DaemonSet
needs; the image name, version and the /metrics port must agree between
the manifests, the Dockerfile, the systemd unit, the README and probe's
own version string. No Docker engine runs on the test machines, so the
Dockerfile is checked statically (its COPY sources exist, its packages
match scripts/setup.sh and the libraries the built binary links); a test
that would build it says so and skips. `make install` is run into a
staging directory and the installed unit goes through `systemd-analyze
verify`. The capability set the DaemonSet and the unit grant is tried for
real: probe --check under exactly those capabilities.
"""
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from conftest import PROBE, ROOT

DEPLOY = os.path.join(ROOT, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
DOCKERFILE = os.path.join(DEPLOY, "Dockerfile")
UNIT = os.path.join(DEPLOY, "systemd", "probe.service")
PORT = 9464
CAPS = ["BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE", "DAC_READ_SEARCH"]


def read(path):
    with open(path) as f:
        return f.read()


def manifests():
    docs = []
    for name in sorted(os.listdir(K8S)):
        if name.endswith(".yaml") and name != "kustomization.yaml":
            for doc in yaml.safe_load_all(read(os.path.join(K8S, name))):
                if doc:
                    docs.append(doc)
    return docs


def one(kind):
    found = [d for d in manifests() if d["kind"] == kind]
    assert len(found) == 1, f"want one {kind}, found {len(found)}"
    return found[0]


def version():
    """probe's own version, from argp_program_version in user/cli.c."""
    m = re.search(r'argp_program_version = "probe ([^"]+)"', read(os.path.join(ROOT, "user", "cli.c")))
    assert m, "no argp_program_version in user/cli.c"
    return m.group(1)


def container():
    return one("DaemonSet")["spec"]["template"]["spec"]["containers"][0]


def test_manifests_parse_and_are_complete():
    kinds = sorted(d["kind"] for d in manifests())
    assert kinds == sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
                            "ConfigMap", "DaemonSet", "Service"])
    for d in manifests():
        assert d["apiVersion"] and d["metadata"]["name"]
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == "probe", d["kind"]
    kust = yaml.safe_load(read(os.path.join(K8S, "kustomization.yaml")))
    listed = sorted(kust["resources"])
    present = sorted(n for n in os.listdir(K8S) if n.endswith(".yaml") and n != "kustomization.yaml")
    assert listed == present


def test_daemonset():
    ds = one("DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    c = container()
    assert ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    assert pod["hostPID"] is True
    assert pod["serviceAccountName"] == one("ServiceAccount")["metadata"]["name"]
    assert {"operator": "Exists"} in pod["tolerations"]
    # every mount the probe needs, from the host
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    for path in ("/sys/kernel/tracing", "/sys/fs/cgroup"):
        name = next(n for n, p in host.items() if p == path)
        assert mounts[name] == path
    # the config: the ConfigMap's key, where --config looks for it
    cm = one("ConfigMap")
    vol = next(v for v in pod["volumes"] if "configMap" in v)
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    key = next(iter(cm["data"]))
    assert f"--config={mounts[vol['name']]}/{key}" in c["args"]
    assert f"--listen=0.0.0.0:{PORT}" in c["args"]
    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert c["ports"] == [{"name": "metrics", "containerPort": PORT, "protocol": "TCP"}]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][kind])


def test_daemonset_least_privilege():
    sc = container()["securityContext"]
    assert sc["privileged"] is False
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["capabilities"]["add"] == CAPS
    # each capability has a comment saying why, right above it
    lines = read(os.path.join(K8S, "daemonset.yaml")).splitlines()
    for cap in CAPS:
        i = next(i for i, l in enumerate(lines) if l.strip() == f"- {cap}")
        assert lines[i - 1].strip().startswith("#"), f"{cap} has no comment"
    # the privileged fallback is documented
    assert "privileged: true" in read(os.path.join(K8S, "daemonset.yaml"))


def test_rbac_reads_pods_only():
    role = one("ClusterRole")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    binding = one("ClusterRoleBinding")
    sa = one("ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]


def test_service_scrapes_the_pods():
    svc = one("Service")
    tmpl = one("DaemonSet")["spec"]["template"]
    assert svc["spec"]["selector"].items() <= tmpl["metadata"]["labels"].items()
    assert svc["spec"]["ports"] == [{"name": "metrics", "port": PORT, "targetPort": "metrics",
                                     "protocol": "TCP"}]
    for ann in (svc["metadata"]["annotations"], tmpl["metadata"]["annotations"]):
        assert ann == {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT),
                       "prometheus.io/path": "/metrics"}


def accepts_config(text, tmp_path):
    """probe loads the config before anything else: a bad one exits 78, a good one
    goes on to the --pid check, which exits 66 for a pid that cannot exist
    (4194304: pids stay below pid_max, which is at most that)."""
    path = tmp_path / "config.json"
    path.write_text(text)
    r = subprocess.run([PROBE, "--config", str(path), "--pid", "4194304"],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stderr


def test_configs_are_accepted(tmp_path):
    if not os.path.exists(PROBE):
        pytest.fail(f"{PROBE} missing: run 'make probe'")
    cm = one("ConfigMap")
    for text in (next(iter(cm["data"].values())), read(os.path.join(DEPLOY, "config.json"))):
        json.loads(text)
        rc, err = accepts_config(text, tmp_path)
        assert rc == 66, err
    # the check can fail
    rc, err = accepts_config('{"interval_s": "often"}', tmp_path)
    assert rc == 78, err


def test_image_and_port_agree():
    ver = version()
    image = f"probe:{ver}"
    assert container()["image"] == image
    kust = yaml.safe_load(read(os.path.join(K8S, "kustomization.yaml")))
    assert kust["images"] == [{"name": "probe", "newName": "probe", "newTag": ver}]
    df = read(DOCKERFILE)
    assert f"docker build -f deploy/Dockerfile -t {image} ." in df
    assert f'org.opencontainers.image.version="{ver}"' in df
    assert re.search(rf"^EXPOSE {PORT}$", df, re.M)
    assert f'CMD ["--listen=0.0.0.0:{PORT}"]' in df
    assert f"--listen=127.0.0.1:{PORT}" in read(UNIT)
    readme = read(os.path.join(ROOT, "README.md"))
    assert f"docker build -f deploy/Dockerfile -t {image} ." in readme
    assert f"image `{image}`" in readme
    assert str(PORT) in readme.split("## Deploying", 1)[1]


def dockerfile_stages():
    """[(name, [instruction lines])] with continuations joined."""
    text = re.sub(r"\\\n", " ", read(DOCKERFILE))
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            m = re.match(r"FROM (\S+)(?: AS (\S+))?", line)
            stages.append((m.group(2), [line]))
        else:
            stages[-1][1].append(line)
    return stages


def apt_packages(lines):
    pkgs = []
    for l in lines:
        m = re.search(r"apt-get install -y --no-install-recommends (.*?)(?:&&|$)", l)
        if m:
            pkgs += m.group(1).split()
    return pkgs


def setup_build_pkgs():
    """BUILD_PKGS as scripts/setup.sh builds it (its assignments, in order)."""
    acc = ""
    for m in re.finditer(r'^BUILD_PKGS="([^"]*)"', read(os.path.join(ROOT, "scripts", "setup.sh")), re.M):
        acc = m.group(1).replace("$BUILD_PKGS", acc)
    return acc.split()


def test_dockerfile_static():
    stages = dockerfile_stages()
    assert len(stages) == 2, "multi-stage: build, then runtime"
    (build_name, build), (_, runtime) = stages
    assert build[0].startswith("FROM debian:") and runtime[0].startswith("FROM debian:")
    assert runtime[0].endswith("-slim")
    ignored = [l.strip() for l in read(os.path.join(ROOT, ".dockerignore")).splitlines()
               if l.strip() and not l.startswith("#")]
    for l in build:
        if l.startswith("COPY "):
            src = l.split()[1]
            assert os.path.exists(os.path.join(ROOT, src)), f"COPY {src}: not in the repository"
            assert src.rstrip("/") not in ignored
    # the sources the Makefile compiles are all copied
    copied = {l.split()[1].rstrip("/") for l in build if l.startswith("COPY ")}
    assert {"Makefile", "include", "bpf", "user"} <= copied
    # the build runs a Makefile target, and installs what setup.sh installs for a build
    make = [l for l in build if l.startswith("RUN make")]
    assert len(make) == 1 and make[0].split()[-1] == "probe"
    assert re.search(r"^probe:", read(os.path.join(ROOT, "Makefile")), re.M)
    missing = set(setup_build_pkgs()) - set(apt_packages(build))
    assert not missing, f"build stage lacks BUILD_PKGS of scripts/setup.sh: {missing}"
    assert any(l.startswith(f"COPY --from={build_name} /src/probe ") for l in runtime)
    assert "ENTRYPOINT [\"/usr/bin/probe\"]" in runtime


def test_dockerfile_runtime_has_every_library():
    """Each shared library the built probe links (DT_NEEDED) comes from a package
    the runtime stage installs, or from the slim base (libc6)."""
    if not os.path.exists(PROBE):
        pytest.fail(f"{PROBE} missing: run 'make probe'")
    dyn = subprocess.run(["readelf", "-d", PROBE], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dyn)
    assert needed
    runtime = set(apt_packages(dockerfile_stages()[1][1])) | {"libc6"}
    for so in needed:
        ldc = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        path = re.search(rf"^\s*{re.escape(so)} \(.*?x86-64.*?\) => (\S+)", ldc, re.M)
        assert path, f"{so} not found by ldconfig"
        real = os.path.realpath(path.group(1))
        owner = None
        for p in (path.group(1), real, real.replace("/usr/lib/", "/lib/"), path.group(1).replace("/usr/lib/", "/lib/")):
            r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
            if r.returncode == 0:
                owner = r.stdout.split(":")[0]
                break
        assert owner, f"{so}: no package owns {real}"
        assert owner in runtime, f"{so} comes from {owner}, which the runtime stage does not install"


def test_docker_build():
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine on this machine: the image is not built here; "
                    "the Dockerfile is checked statically by the tests above")
    r = subprocess.run([docker, "build", "-f", DOCKERFILE, "-t", f"probe:{version()}", ROOT],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]


def make_install(*args):
    r = subprocess.run(["make", "-s", "install", *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr


def test_make_install_destdir(tmp_path):
    dest = tmp_path / "stage"
    make_install(f"DESTDIR={dest}", "PREFIX=/usr")
    assert os.access(dest / "usr/bin/probe", os.X_OK)
    unit = (dest / "usr/lib/systemd/system/probe.service").read_text()
    assert "ExecStart=/usr/bin/probe --config=/etc/probe/config.json" in unit
    assert not [l for l in unit.splitlines() if "/usr/local" in l and not l.startswith("#")]
    cfg = dest / "etc/probe/config.json"
    assert json.loads(cfg.read_text())
    # a second install keeps a changed config
    cfg.write_text('{"interval_s": 5}\n')
    make_install(f"DESTDIR={dest}", "PREFIX=/usr")
    assert cfg.read_text() == '{"interval_s": 5}\n'
    r = subprocess.run(["make", "-s", "uninstall", f"DESTDIR={dest}", "PREFIX=/usr"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0 and not (dest / "usr/bin/probe").exists() and cfg.exists()


def test_systemd_unit_verifies(tmp_path):
    """Installed into a scratch PREFIX, so ExecStart names a binary that exists.
    systemd-analyze verify exits 0 even on unknown keys and bad values; any
    message it prints counts as a failure."""
    sa = shutil.which("systemd-analyze")
    if not sa:
        pytest.skip("systemd-analyze is not installed: the unit is not verified here")
    make_install(f"PREFIX={tmp_path}", f"SYSCONFDIR={tmp_path}/etc")
    unit = tmp_path / "lib/systemd/system/probe.service"
    r = subprocess.run([sa, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    if "Failed to initialize" in r.stderr or "Permission denied" in r.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {r.stderr.strip()}")
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stderr + r.stdout
    # the check can fail: a key systemd does not know
    bad = tmp_path / "bad.service"
    bad.write_text(unit.read_text().replace("NoNewPrivileges=yes", "NoNewPrivileges=yes\nNoSuchKey=1"))
    r = subprocess.run([sa, "verify", str(bad)], capture_output=True, text=True, timeout=60)
    assert "NoSuchKey" in r.stderr


def test_unit_hardening_and_caps_match_daemonset():
    unit = read(UNIT)
    keys = dict(l.split("=", 1) for l in unit.splitlines() if "=" in l and not l.startswith("#"))
    want = " ".join("CAP_" + c for c in CAPS)
    assert keys["CapabilityBoundingSet"] == want
    assert keys["AmbientCapabilities"] == want
    assert keys["NoNewPrivileges"] == "yes"
    assert keys["ProtectSystem"] == "strict"
    assert keys["LimitMEMLOCK"] == "infinity"
    assert re.fullmatch(r"\d+[KMG]", keys["MemoryMax"])


def run_check(bounding):
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("setpriv (util-linux) missing")
    r = subprocess.run([setpriv, "--no-new-privs", "--inh-caps=-all", f"--bounding-set={bounding}",
                        PROBE, "--check"], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def test_granted_capabilities_suffice():
    """The DaemonSet's and the unit's capabilities, and no other: probe --check
    finds live signals. Without CAP_BPF it cannot load anything (exit 69)."""
    if not os.path.exists(PROBE):
        pytest.fail(f"{PROBE} missing: run 'make probe'")
    caps = ",".join("+" + c.lower() for c in CAPS)
    rc, out = run_check("-all," + caps)
    assert rc == 0, out
    assert re.search(r"^[1-9]\d* signal\(s\) live", out, re.M), out
    rc, out = run_check("-all," + caps.replace("+bpf,", ""))
    assert rc == 69, out
