"""Call scripts: both languages load, and a service taboo (服务忌语) stops the server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import call_scripts
from ivr.platform.scripts import CallScripts, ForbiddenPhraseError

PACKAGED = Path(call_scripts.__file__).parent


def copy_scripts(tmp_path: Path) -> Path:
    target = tmp_path / "scripts"
    shutil.copytree(PACKAGED, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def test_every_script_exists_in_both_languages():
    zh = {p.name for p in (PACKAGED / "zh-CN").glob("*.j2")}
    en = {p.name for p in (PACKAGED / "en").glob("*.j2")}
    assert zh == en and "greeting.j2" in zh


@pytest.mark.parametrize("phrase", ["喂，", "不知道", "急什么", "有本事你去告"])
def test_a_forbidden_phrase_is_named_with_its_file(tmp_path, phrase):
    folder = copy_scripts(tmp_path)
    target = folder / "zh-CN" / "goodbye.j2"
    target.write_text(f"{phrase}感谢您的来电，再见！", encoding="utf-8")
    with pytest.raises(ForbiddenPhraseError) as error:
        CallScripts(folder)
    assert str(target) in str(error.value) and phrase.rstrip("，") in str(error.value)


def test_the_server_refuses_to_start_with_a_forbidden_phrase(tmp_path):
    folder = copy_scripts(tmp_path)
    (folder / "zh-CN" / "please_wait.j2").write_text("喂，请稍等。", encoding="utf-8")
    env = {**os.environ, "IVR_CALL_SCRIPTS_DIR": str(folder), "IVR_INSECURE_DEV": "1",
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    result = subprocess.run([sys.executable, "-m", "ivr.cli", "serve", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode != 0
    assert "please_wait.j2" in result.stderr and "'喂'" in result.stderr


def test_the_server_refuses_to_start_without_an_auth_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_AUTH_TOKEN", "IVR_INSECURE_DEV")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    result = subprocess.run([sys.executable, "-m", "ivr.cli", "serve", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode != 0 and "TWILIO_AUTH_TOKEN" in result.stderr
