"""hdnnp.threads: cores from affinity and cgroup quota; passive OpenMP waiting by default."""
import os
import subprocess
import sys


def test_available_cores_respects_affinity_and_quota(monkeypatch):
    from hdnnp import threads
    monkeypatch.setattr(threads, "_affinity", lambda: 8)
    monkeypatch.setattr(threads, "cgroup_quota", lambda: None)
    assert threads.available_cores() == 8
    monkeypatch.setattr(threads, "cgroup_quota", lambda: 2.5)
    assert threads.available_cores() == 3
    monkeypatch.setattr(threads, "cgroup_quota", lambda: 0.2)
    assert threads.available_cores() == 1
    assert "cgroup quota 0.2" in threads.describe()


def test_passive_wait_policy_unless_chosen():
    code = "import hdnnp, os; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "ACTIVE"
