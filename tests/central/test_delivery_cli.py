"""``triage-central deliver`` and ``deliveries`` as processes: the settings file is checked (a bad
one names the field and exits 78, never showing a secret), a test message reaches a real receiver,
SIGTERM stops the worker cleanly, and the queue is listed with destinations redacted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from central.config import ConfigError
from central.delivery.settings import load, parse
from tests.central.receivers import HttpReceiver


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "central", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )  # fmt: skip


def config(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "delivery.toml"
    p.write_text(body, encoding="utf-8")
    return p


def test_settings_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "GROUP_URL", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY99"
    )
    s = parse(
        {
            "base_url": "https://triage.district.example/",
            "groups": [{"name": "群", "channel": "wecom", "url_env": "GROUP_URL"},
                       {"channel": "email", "address": "office@district.example", "language": "en"}],
            "smtp": {"host": "mail.district.example", "port": 587, "tls": "starttls"},
            "retry": {"max_attempts": 5, "base_s": 60},
            "loop": {"auto_issue": True, "draft_at": "17:30"},
            "settle_s": 30,
        },
        "zh_CN",
    )  # fmt: skip
    assert s.base_url == "https://triage.district.example"
    assert [g.channel for g in s.groups] == ["wecom", "email"]
    assert s.groups[0].locale == "zh_CN"
    assert s.groups[1].locale == "en"
    assert s.policy.max_attempts == 5
    assert s.loop.auto_issue
    assert s.smtp is not None
    assert s.smtp.tls == "starttls"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"colour": 1}, "unknown setting 'colour'"),
        ({"base_url": "triage.example"}, "base_url"),
        ({"groups": [{"channel": "wecom"}]}, r"groups\[0\]: url \(or url_env\) is required"),
        ({"groups": [{"channel": "wecom", "url_env": "NOPE_NOT_SET"}]}, "NOPE_NOT_SET is not set"),
        ({"groups": [{"channel": "wecom", "url": "https://x/send?key=SECRETKEY99", "language": "fr"}]},
         "language 'fr'"),
        ({"smtp": {"tls": "maybe"}}, "tls"),
        ({"smtp": {"port": True}}, "port"),
        ({"retry": {"max_attempts": 0}}, "max_attempts"),
        ({"loop": {"draft_at": "25:00"}}, "draft_at"),
        ({"settle_s": -1}, "settle_s"),
    ]  # fmt: skip
    for doc, why in bad:
        with pytest.raises(ConfigError, match=why) as err:
            parse(doc, "zh_CN", src="d.toml")
        assert "SECRETKEY99" not in str(err.value)
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(config(tmp_path, "groups = ["), "zh_CN")
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.toml", "zh_CN")


def test_a_bad_settings_file_exits_78(tmp_path: Path) -> None:
    cfg = config(tmp_path, '[[groups]]\nchannel = "wecom"\nurl = "ftp://x/?key=SECRETKEY99"\n')
    r = cli("deliver", "--db", str(tmp_path / "c.sqlite3"), "--delivery-config", str(cfg), "--once")
    assert r.returncode == 78, r.stderr
    assert "groups[0]" in r.stderr
    assert "SECRETKEY99" not in r.stderr


@pytest.mark.slow
def test_deliver_sends_a_check_and_stops_on_sigterm(tmp_path: Path) -> None:
    recv = HttpReceiver().start()
    try:
        cfg = config(
            tmp_path,
            'base_url = "https://triage.district.example"\npoll_s = 0.5\n'
            '[[groups]]\nname = "监督群"\nchannel = "wecom"\nurl_env = "GROUP_URL"\n',
        )
        db = str(tmp_path / "c.sqlite3")
        env = {**os.environ, "GROUP_URL": recv.url("/wecom/send?key=SECRETKEY99"),
               "TRIAGE_CENTRAL_DELIVERY_CONFIG": str(cfg)}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "central", "deliver", "--db", db, "--check", "--tz", "Asia/Shanghai"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not recv.taken() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        (hit,) = recv.taken()
        assert hit.json()["markdown"]["content"].startswith("**预检分诊监管系统测试消息**")
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "stopped" in out
        assert "SECRETKEY99" not in out
        listed = cli("deliveries", "--db", db)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.splitlines()[0] == "queued 0  sending 0  sent 1  retry 0  dead 0"
        assert "监督群: wecom 127.0.0.1" in listed.stdout
        assert "SECRETKEY99" not in listed.stdout
        recv.stop()
        once = cli("deliver", "--db", db, "--check", "--once", "--send-only", env=env)
        assert once.returncode == 1, once.stdout + once.stderr  # the receiver is down: to retry
        assert "to retry 1" in once.stdout
        dead = cli("deliveries", "--db", db, "--state", "retry")
        assert "cannot reach the receiver" in dead.stdout
        assert cli("deliveries", "--db", db, "--retry", "1").returncode == 1  # sent, not dead
    finally:
        recv.stop()
