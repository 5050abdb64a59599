"""The README's examples, run so they cannot rot.

Which fenced blocks are checked, and how:

- A block tagged `yaml` is an example of a file the program reads; what its content is decides
  the loader. A mapping whose `site` is a path is a scenario: it is written into
  `examples/scenarios/` of a copy of `examples/` (where the README says scenarios live, so
  `site: ../demo-school.yaml` resolves) and loaded with `load_scenario`, as `canteen eval
  --scenario FILE` does. A mapping whose `site` is a section is a whole site config, loaded with
  `load_config`. Anything else is a fragment of a site config (the README shows a section or
  two): it is laid over `examples/demo-school.yaml` (a section replaces the demo's; in a list of
  items with an `id`, such as `devices`, an item replaces the demo's item of that id or is
  added) and the result is loaded with `load_config`.
- A block with another tag, or none, must not hold such a file: one that parses as a YAML
  mapping with a scenario's or a site config's keys fails the test, so dropping the `yaml` tag
  cannot hide an example from it.
- `sh` blocks: every `make TARGET` names a target of the Makefile (not run: they install).
- The command synopsis (a block whose lines start with `canteen COMMAND`): each command's
  `--help` runs and lists every option the synopsis shows.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from canteen.cli import main as cli_main
from core.config import SiteConfig, load_config
from firmware_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
EXAMPLES = ROOT / "examples"
DEMO_SITE = "demo-school.yaml"
SCENARIO_KEYS = {"site", "start", "duration", "faults"}
SYNOPSIS_LINE = re.compile(r"canteen ([a-z]+(?: [a-z]+)*)\b")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<tag>[\w+-]*)\s*$")


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence in README.md
    tag: str
    text: str

    @property
    def where(self) -> str:
        return f"README.md:{self.line}"


def fenced_blocks(markdown: str) -> list[Block]:
    """Every fenced block, its indentation (a block inside a list item) removed."""
    blocks: list[Block] = []
    opened: tuple[int, str, str] | None = None
    body: list[str] = []
    for number, line in enumerate(markdown.splitlines(), 1):
        fence = FENCE.match(line)
        if opened is None and fence:
            opened, body = (number, fence["tag"], fence["indent"]), []
        elif opened is not None and fence and not fence["tag"]:
            blocks.append(Block(opened[0], opened[1], "\n".join(body) + "\n"))
            opened = None
        elif opened is not None:
            body.append(line.removeprefix(opened[2]))
    assert opened is None, f"README.md:{opened[0]}: a fenced block is never closed"
    return blocks


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))
YAML_BLOCKS = [b for b in BLOCKS if b.tag == "yaml"]
OTHER_BLOCKS = [b for b in BLOCKS if b.tag != "yaml"]
SYNOPSES = [b for b in OTHER_BLOCKS if b.text.startswith("canteen ")]


def _kind(data: object) -> str:
    if isinstance(data, dict) and isinstance(data.get("site"), str):
        return "scenario"
    if isinstance(data, dict) and isinstance(data.get("site"), dict):
        return "site config"
    return "site config fragment"


def _overlay(base: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for section, value in fragment.items():
        old = merged.get(section)
        if isinstance(value, list) and isinstance(old, list) and _all_have_ids(value + old):
            ids = {item["id"] for item in value}
            merged[section] = [i for i in old if i["id"] not in ids] + value
        else:
            merged[section] = value
    return merged


def _all_have_ids(items: list[Any]) -> bool:
    return all(isinstance(item, dict) and "id" in item for item in items)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of examples/, so an example's relative paths resolve as they do in the tree."""
    return Path(shutil.copytree(EXAMPLES, tmp_path / "examples"))


def test_the_readme_has_examples_of_each_file_it_describes() -> None:
    kinds = {_kind(yaml.safe_load(b.text)) for b in YAML_BLOCKS}
    assert {"scenario", "site config fragment"} <= kinds, kinds
    assert SYNOPSES, "the command synopsis block is gone"


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=lambda b: b.where)
def test_a_yaml_example_loads(block: Block, examples: Path) -> None:
    data = yaml.safe_load(block.text)
    assert isinstance(data, dict), f"{block.where}: not a YAML mapping"
    kind = _kind(data)
    name = f"readme-{block.line}.yaml"
    try:
        if kind == "scenario":
            path = examples / "scenarios" / name
            path.write_text(block.text, encoding="utf-8")
            load_scenario(path)
            return
        if kind == "site config fragment":
            base = yaml.safe_load((examples / DEMO_SITE).read_text(encoding="utf-8"))
            data = _overlay(base, data)
        path = examples / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        load_config(path)
    except Exception as exc:
        where = f"{block.where} (line N of the file is README.md:{block.line}+N)"
        if kind == "site config fragment":  # lines are the merged file's; the field says where
            where = f"{block.where} (laid over examples/{DEMO_SITE})"
        pytest.fail(f"{where}: the {kind} example does not load:\n{exc}")


@pytest.mark.parametrize("block", OTHER_BLOCKS, ids=lambda b: b.where)
def test_no_untagged_block_holds_a_config_or_scenario(block: Block) -> None:
    try:
        data = yaml.safe_load(block.text)
    except yaml.YAMLError:
        return
    if isinstance(data, dict):
        keys = set(data) & (SCENARIO_KEYS | set(SiteConfig.model_fields))
        assert not keys, f"{block.where}: looks like a config or scenario ({keys}); tag it yaml"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.tag == "sh"], ids=lambda b: b.where)
def test_make_targets_in_the_readme_exist(block: Block) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w.-]+):", makefile, flags=re.MULTILINE))
    for target in re.findall(r"^make ([\w.-]+)", block.text, flags=re.MULTILINE):
        assert target in targets, f"{block.where}: `make {target}`: no such target"


def _synopsis(block: Block) -> list[tuple[str, set[str]]]:
    """Each command of the synopsis with the options it shows (continuation lines indented)."""
    commands: list[tuple[str, set[str]]] = []
    for line in block.text.splitlines():
        started = SYNOPSIS_LINE.match(line)
        if started:
            commands.append((started[1], set()))
        assert commands, f"{block.where}: the synopsis does not start with a command"
        commands[-1][1].update(re.findall(r"--[a-z][a-z-]*", line))
    return commands


@pytest.mark.parametrize(
    ("command", "options"),
    [c for b in SYNOPSES for c in _synopsis(b)],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_the_command_synopsis_matches_the_help(
    command: str, options: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # In this process: `canteen --help` in a child costs ~3 s of imports per command.
    with pytest.raises(SystemExit) as done:
        cli_main([*command.split(), "--help"])
    help_text = capsys.readouterr()
    assert done.value.code == 0, f"canteen {command} --help: {help_text.err}"
    missing = {o for o in options if not re.search(rf"{o}\b", help_text.out)}
    assert not missing, f"canteen {command} --help lists no {sorted(missing)}"
