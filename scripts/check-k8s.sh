#!/usr/bin/env bash
# CI check of scripts/k8s/indexed-job.yaml, offline once installed:
#   1. schema: kubernetes-validate (PyPI; it ships the Kubernetes JSON
#      schemas inside the package) in strict mode — unknown fields are
#      errors — against the oldest Kubernetes with backoffLimitPerIndex on by
#      default (1.29), the one where it is GA (1.33) and the newest shipped;
#   2. what the schema cannot know: the worker's contract (shards equal
#      completions, a per-index output path, grace below the pod's
#      termination grace, non-root, read-only root, /tmp and /dev/shm
#      volumes) and, when the binary is built, that every flag the Job
#      passes is one `beian-audit scan` knows.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly MANIFEST=${K8S_MANIFEST:-scripts/k8s/indexed-job.yaml}
readonly VALIDATOR="kubernetes-validate==1.37.0"
readonly VERSIONS=(1.29.0 1.33.0 1.37.0)
venv=${K8S_VENV:-target/k8s-venv}

if ! "$venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "${VALIDATOR#*==}"; then
  echo "check-k8s: installing $VALIDATOR into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$VALIDATOR"
fi

for version in "${VERSIONS[@]}"; do
  "$venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$version" "$MANIFEST" ||
    { echo "check-k8s: FAIL: $MANIFEST does not validate against Kubernetes $version" >&2; exit 1; }
done

bin=${BEIAN_AUDIT_BIN:-target/debug/beian-audit}
help=""
[ -x "$bin" ] && help=$("$bin" scan --help)

"$venv/bin/python" - "$MANIFEST" "$help" <<'PY'
import re, sys
import yaml

manifest, help_text = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(manifest, encoding="utf-8")) if d]
jobs = [d for d in docs if d["kind"] == "Job"]
problems = []

def check(ok, what):
    if not ok:
        problems.append(what)

check(len(jobs) == 1, "exactly one Job")
job = jobs[0]
spec = job["spec"]
pod = spec["template"]["spec"]
(worker,) = [c for c in pod["containers"] if c["name"] == "worker"]
env = {e["name"]: e for e in worker.get("env", [])}
args = worker["args"]

def flag(name):
    """The value after `name` in args (or of `name=value`), else None."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None

check(spec.get("completionMode") == "Indexed", "completionMode Indexed")
check("backoffLimitPerIndex" in spec, "backoffLimitPerIndex set")
shards = env.get("BEIAN_AUDIT_SHARDS", {}).get("value")
check(shards == str(spec["completions"]), f"BEIAN_AUDIT_SHARDS ({shards}) equals completions ({spec['completions']})")
check(spec.get("parallelism", 1) <= spec["completions"], "parallelism at most completions")
check(pod.get("restartPolicy") == "Never", "restartPolicy Never (podFailurePolicy needs it)")
output = flag("--output") or flag("-o") or ""
check("$(JOB_COMPLETION_INDEX)" in output and output.startswith("/out/"), f"per-index output under /out ({output})")
check("JOB_COMPLETION_INDEX" in env, "JOB_COMPLETION_INDEX declared for $(…) expansion in args")
check("--resume" in args, "--resume: a retried index continues its own file")
check(flag("--fail-on") == "never", "--fail-on never: findings are not pod failures")
check(flag("--log-format") == "json", "--log-format json for the cluster's log pipeline")
grace = int(flag("--grace") or 20)
check(pod.get("terminationGracePeriodSeconds", 30) > grace + 10,
      f"terminationGracePeriodSeconds ({pod.get('terminationGracePeriodSeconds')}) well above --grace ({grace})")
psc, csc = pod.get("securityContext", {}), worker.get("securityContext", {})
check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001, "runAsNonRoot, uid 10001 (the image's user)")
check(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
check(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
check(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
mounts = {m["mountPath"]: m["name"] for m in worker["volumeMounts"]}
volumes = {v["name"]: v for v in pod["volumes"]}
check("emptyDir" in volumes.get(mounts.get("/tmp"), {}), "/tmp is an emptyDir")
check(volumes.get(mounts.get("/dev/shm"), {}).get("emptyDir", {}).get("medium") == "Memory", "/dev/shm is a memory emptyDir")
check("configMap" in volumes.get(mounts.get("/in"), {}), "input from a ConfigMap at /in")
check("persistentVolumeClaim" in volumes.get(mounts.get("/out"), {}), "output on a PVC at /out")
limits = worker.get("resources", {}).get("limits", {})
check("memory" in limits and "cpu" in limits, "cpu and memory limits (the worker sizes its concurrency from them)")

if help_text:
    known = set(re.findall(r"--[a-z][a-z-]+", help_text))
    for a in args:
        if a.startswith("--"):
            name = a.split("=", 1)[0]
            check(name in known, f"`beian-audit scan` knows {name}")
else:
    print("check-k8s: binary not built; flag names not checked", file=sys.stderr)

if problems:
    sys.exit("check-k8s: FAIL:\n  " + "\n  ".join(problems))
print(f"check-k8s: ok — {manifest} validates (strict) and keeps the worker's contract", file=sys.stderr)
PY
