import pytest

from tutor.cli import build_parser
from tutor.config import SettingError, Settings
from tutor.docs import cli_markdown, settings_page


def test_every_setting_has_default_env_and_help():
    for f in Settings.fields():
        assert f.metadata["help"].strip(), f.name
        assert Settings.env_name(f.name) == "TUTOR_" + f.name.upper()
        assert f.default is not None


def test_every_setting_is_documented_in_docs_folder():
    from tutor.config import REPO_ROOT

    page = (REPO_ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == settings_page(), "docs/settings.md is stale: run python -m tutor.docs"
    for f in Settings.fields():
        assert f"`TUTOR_{f.name.upper()}`" in page


def test_cli_reference_is_generated_from_the_parser():
    from tutor.config import REPO_ROOT

    text = cli_markdown()
    for command in ("serve", "ingest", "index", "ask", "eval", "bench", "models"):
        assert f"## tutor {command}" in text
    page = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == text, "docs/cli.md is stale: run python -m tutor.docs"


def test_environment_then_flags_override_defaults():
    s = Settings.load(env={"TUTOR_PORT": "8000", "TUTOR_OFFLINE": "false"}, host="0.0.0.0")
    assert (s.port, s.offline, s.host) == (8000, False, "0.0.0.0")
    assert Settings.load(env={}).port == 7860
    assert Settings.load(env={}).host == "127.0.0.1"


@pytest.mark.parametrize("env, name", [({"TUTOR_PORT": "eighty"}, "port"),
                                       ({"TUTOR_COMPOSER": "magic"}, "composer"),
                                       ({"TUTOR_PORT": "70000"}, "port")])
def test_bad_setting_names_the_setting(env, name):
    with pytest.raises(SettingError) as info:
        Settings.load(env=env)
    assert info.value.setting == name
    assert f"TUTOR_{name.upper()}" in str(info.value)


def test_each_subcommand_has_help(capsys):
    parser = build_parser()
    for command in ("serve", "ingest", "index", "ask", "eval", "bench", "models", "teacher add",
                    "teacher set-password", "school add", "school list", "class add", "class list",
                    "class qr", "privacy"):
        with pytest.raises(SystemExit) as info:
            parser.parse_args([*command.split(), "--help"])
        assert info.value.code == 0
        assert "--data-dir" in capsys.readouterr().out
