"""The README a newcomer reads stays short and true: its sample replies are the real output,
every setting and command it names exists, its time zone claim is what the code reads, and
every link (README and docs/) leads somewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import handlers
from settings import ENV_FIELDS, Settings, _convert
from signals.chart import chart_png
from signals.snapshot import DEMO_PATH, load_snapshot
from signals.thresholds import Thresholds
from signals.timezones import ABBREVIATIONS, zone_of
from tests.helpers.telegram import bot_settings

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_LINES = 200
# commands of @BotFather the README tells you to send it, not Preflight's
BOTFATHER = {"newbot", "setinline"}


def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(text: str, title: str) -> str:
    """The body of a `## title` section."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match is not None, f"no section {title!r}"
    return match.group(1)


def fenced_after(text: str, marker: str) -> str:
    """The first ```text block after `marker`."""
    start = text.index(marker)
    match = re.search(r"```text\n(.*?)\n```", text[start:], re.S)
    assert match is not None, f"no text block after {marker!r}"
    return match.group(1)


def run_cli(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFLIGHT_", "TELEGRAM_"))}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout.rstrip("\n")


def table_rows(body: str) -> list[list[str]]:
    """The cells of a markdown table's body rows (escaped pipes kept inside their cell)."""
    rows = []
    for line in body.splitlines():
        if not line.startswith("|") or set(line) <= {"|", "-", " "}:
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        rows.append(cells)
    return rows[1:]  # the header row is no setting


def test_the_readme_is_read_in_three_minutes() -> None:
    assert len(readme().splitlines()) <= MAX_LINES


def test_the_sample_replies_are_the_real_output_of_the_demo_check() -> None:
    text = readme()
    compact = fenced_after(text, "`python bot.py check ETH long 5x --demo` prints")
    details = fenced_after(text, "and `--details`")

    assert compact == run_cli("check", "ETH", "long", "5x", "--demo")
    assert details == run_cli("check", "ETH", "long", "5x", "--demo", "--details")


def test_the_sample_chart_is_the_real_render_of_the_demo() -> None:
    from handlers.charts import chart_headlines
    from signals.grade import grade_check
    from signals.idea import TradeIdea

    assert "](docs/chart-30d.png)" in readme()
    asof, assets = load_snapshot(DEMO_PATH)
    th = Thresholds()
    result = grade_check(TradeIdea(asset="ETH", side=None), assets["ETH"], asof, th)
    png = chart_png(assets["ETH"], asof, "30d", headline=chart_headlines(result, th))

    assert (DOCS / "chart-30d.png").read_bytes() == png  # docs/make_chart_samples.py


def settings_names() -> set[str]:
    thresholds = {f"PREFLIGHT_{name.upper()}" for name in Thresholds.__dataclass_fields__}
    return set(ENV_FIELDS) | thresholds


def test_every_setting_the_readme_and_docs_name_exists() -> None:
    pattern = re.compile(r"\b(?:PREFLIGHT|TELEGRAM)_[A-Z0-9_]*[A-Z0-9]\b")
    texts = [README, *sorted(DOCS.glob("*.md"))]
    named = {(p.name, n) for p in texts for n in pattern.findall(p.read_text(encoding="utf-8"))}

    unknown = sorted((where, n) for where, n in named if n not in settings_names())
    assert unknown == []


@pytest.mark.parametrize(
    ("path", "title"),
    [
        (README, "The five settings people change first"),
        (DOCS / "configuration.md", None),
    ],
)
def test_the_defaults_written_down_are_the_defaults(path: Path, title: str | None) -> None:
    text = path.read_text(encoding="utf-8")
    body = section(text, title) if title else text
    defaults = Settings()
    checked = 0
    for cells in table_rows(body):
        var = cells[0].strip("`")
        if var not in settings_names():
            continue
        written = re.fullmatch(r"`([^`]*)`", cells[1])
        if var in ENV_FIELDS:
            default = getattr(defaults, ENV_FIELDS[var])
        else:
            default = getattr(defaults.thresholds, var.removeprefix("PREFLIGHT_").lower())
        if written is None:  # "unset: …", "— (required…)", "Telegram's"
            assert default in (None, "", ()), f"{var}: the default is {default!r}"
        else:
            assert _convert(written.group(1), default) == default, var
        checked += 1
    assert checked >= 5
    if title is not None:
        assert checked == 5


def wired_commands() -> set[str]:
    from telegram.ext import CommandHandler

    app = handlers.build_application(bot_settings(Path("/nonexistent")))
    handlers.register(app)
    return {
        command
        for group in app.handlers.values()
        for handler in group
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }


def test_every_command_the_readme_lists_is_in_the_wiring_table() -> None:
    named = set(re.findall(r"`/([a-z_]+)", readme())) - BOTFATHER
    table = {
        command
        for cells in table_rows(section(readme(), "Commands"))
        for command in re.findall(r"`/([a-z_]+)", cells[0])
    }

    assert named - wired_commands() == set()
    # and the table lists every command the bot has
    assert wired_commands() - table - {"subscriptions"} == set()
    assert "/subscriptions" in section(readme(), "Commands")


def test_the_time_zone_claim_is_what_daily_reads() -> None:
    [row] = [c for c in table_rows(section(readme(), "Commands")) if c[0].startswith("`/daily")]
    claim = row[1].split("the zone may be", 1)[1]
    forms = re.findall(r"`([^`]+)`", claim.split("; `/daily off`")[0])

    assert len(forms) >= 6
    assert {form: zone_of(form) is not None for form in forms} == dict.fromkeys(forms, True)


def test_the_documented_abbreviations_are_the_ones_the_code_reads() -> None:
    text = (DOCS / "groups-and-alerts.md").read_text(encoding="utf-8")
    documented: dict[str, str] = {}
    table = "| abbreviation | zone |" + text.split("| abbreviation | zone |", 1)[1]
    for cells in table_rows(table.split("\n\n", 1)[0]):
        for abbreviation in cells[0].split(", "):
            documented[abbreviation.lower()] = cells[1]

    assert documented == ABBREVIATIONS


def test_every_link_leads_somewhere() -> None:
    broken = []
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://")):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)} → {target}")
    assert broken == []
