"""quickcommerce.serve's command line: whose forwarded headers the server believes
(the behaviour over real sockets is in test_limits.py)."""

import subprocess
import sys

import pytest

from quickcommerce.serve import FORWARDED_ALLOW_IPS, parse_args
from quickcommerce.testing import BASE_DIR, app_env


def test_by_default_only_loopback_is_believed(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert parse_args([]).forwarded_allow_ips == FORWARDED_ALLOW_IPS == "127.0.0.1,::1"


def test_the_proxy_comes_from_the_environment_or_the_command_line(monkeypatch):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", " 172.30.80.0/24 , 10.0.0.7 ")
    assert parse_args([]).forwarded_allow_ips == "172.30.80.0/24,10.0.0.7"
    assert parse_args(["--forwarded-allow-ips", "192.168.1.5/24"]).forwarded_allow_ips == "192.168.1.0/24"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("*", "'*' would believe X-Forwarded-For from anyone"),
        ("127.0.0.1,*", "'*' would believe X-Forwarded-For from anyone"),
        ("nginx", "'nginx' is not an IP address or network"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IP address or network"),
        (" , ", "name at least one proxy address"),
    ],
)
def test_everyone_or_a_typo_stops_the_server_with_one_line(value, message):
    result = subprocess.run(
        [sys.executable, "-m", "quickcommerce.serve"],
        env=app_env(FORWARDED_ALLOW_IPS=value),
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"error: FORWARDED_ALLOW_IPS: {message}" in result.stderr
    assert "Traceback" not in result.stderr
