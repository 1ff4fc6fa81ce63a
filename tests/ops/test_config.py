from __future__ import annotations

from pathlib import Path

import pytest

from streaming_importer.errors import ConfigError, ExitCode
from streaming_importer.ops.config import DEFAULT_MODEL, Settings
from streaming_importer.surfaces.cli.main import main

from ..conftest import run_cli


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.conversations_dir == Path("~/.claude/projects").expanduser()
    assert s.state_dir == Path("state")
    assert s.qdrant_url is None
    assert s.collection_name == "conversations"
    assert s.source_name == "local"
    assert s.embedding_model == DEFAULT_MODEL
    assert s.chunk_max_tokens == 128
    assert s.embed_batch_tokens == 512
    assert s.checkpoint_path == Path("state/checkpoint.json")


def test_values_are_read_and_trimmed() -> None:
    s = Settings.from_env(
        {
            "STATE_DIR": " /tmp/x ",
            "QDRANT_URL": "http://localhost:6333/",
            "CHUNK_MAX_TOKENS": "128",
            "SHUTDOWN_TIMEOUT_S": "2.5",
            "LOG_LEVEL": "debug",
            "QUEUE_MAX_ITEMS": "1_000",
        }
    )
    assert s.state_dir == Path("/tmp/x")
    assert s.qdrant_url == "http://localhost:6333"
    assert s.chunk_max_tokens == 128
    assert s.shutdown_timeout_s == 2.5
    assert s.log_level == "DEBUG"
    assert s.queue_max_items == 1000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHUNK_MAX_TOKENS", "lots"),
        ("CHUNK_MAX_TOKENS", "0"),
        ("EMBED_BATCH_TOKENS", "-5"),
        ("QDRANT_URL", "localhost:6333"),
        ("COLLECTION_NAME", "no spaces please"),
        ("SOURCE_NAME", "a/b"),
        ("LOG_LEVEL", "LOUD"),
        ("SHUTDOWN_TIMEOUT_S", "soon"),
        ("MAX_LINE_BYTES", "12"),
        ("CHUNK_OVERLAP_TOKENS", "200"),
    ],
)
def test_bad_value_names_variable_and_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env({name: value})
    assert name in str(e.value)
    assert repr(value) in str(e.value)


def test_cli_bad_value_exits_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    code = main(["--once"], {"STATE_DIR": str(state), "EMBED_BATCH_TOKENS": "many"})
    assert code == ExitCode.CONFIG == 2
    err = capsys.readouterr().err
    assert "EMBED_BATCH_TOKENS='many'" in err
    assert not state.exists()  # nothing was started


def test_missing_conversations_dir_exits_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_cli(
        "--once", env={"CONVERSATIONS_DIR": str(missing), "STATE_DIR": str(tmp_path / "s")}
    )
    assert result.returncode == 2, result.stderr
    assert f"CONVERSATIONS_DIR='{missing}'" in result.stderr


def test_settings_are_logged_on_one_line_with_the_api_key_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    caplog.set_level(logging.INFO)
    Settings.from_env({"QDRANT_API_KEY": "sekrit", "SOURCE_NAME": "laptop"}).log_summary(
        logging.getLogger("t")
    )
    (record,) = caplog.records
    assert "QDRANT_API_KEY=***" in record.getMessage()
    assert "SOURCE_NAME=laptop" in record.getMessage()
    assert "sekrit" not in caplog.text


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "importer.example"])
def test_a_non_loopback_control_host_is_refused_unless_a_proxy_is_declared(host: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"CONTROL_HOST": host})
    message = str(refused.value)
    assert f"CONTROL_HOST={host!r}" in message and "CONTROL_BEHIND_PROXY=true" in message
    assert "in clear" in message
    declared = Settings.from_env({"CONTROL_HOST": host, "CONTROL_BEHIND_PROXY": "true"})
    assert declared.control_host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_control_hosts_are_accepted(host: str) -> None:
    assert Settings.from_env({"CONTROL_HOST": host}).control_host == host


def test_the_program_exits_2_on_a_non_loopback_control_host(tmp_path: Path) -> None:
    result = run_cli(
        "--once",
        env={
            "CONVERSATIONS_DIR": str(tmp_path),
            "STATE_DIR": str(tmp_path / "state"),
            "CONTROL_PORT": "0",
            "CONTROL_HOST": "0.0.0.0",
        },
    )
    assert result.returncode == ExitCode.CONFIG
    assert "CONTROL_HOST='0.0.0.0' is not a loopback address" in result.stderr
