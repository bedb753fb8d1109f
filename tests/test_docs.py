"""The docs stay true: every relative link and image in README.md and docs/*.md exists (and so does every
anchor into our own pages), and every command in the README's code blocks parses with its entry point's
flags (the argument parser only: nothing is built or trained)."""
import glob
import importlib
import os
import re
import shlex

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "pretrained", "README.md"),
         *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]
ENTRY_POINTS = ("model.py", "train.py", "translate.py", "evaluate.py", "app.py", "export.py", "bench.py",
                "prepare_data.py")


def _anchors(page):
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", open(page).read(), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def broken_links(page):
    """[link] of `page` whose file, or whose anchor in one of our pages, does not exist."""
    text = re.sub(r"```.*?```", "", open(page).read(), flags=re.S)            # code is not a link
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):                                        # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(resolved) or (anchor and resolved.endswith(".md") and anchor not in _anchors(resolved)):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[os.path.relpath(p, ROOT) for p in PAGES])
def test_every_link_and_image_exists(page):
    assert broken_links(page) == []


def readme_commands(text):
    """(script, arguments) of every `python SCRIPT ...` in the code blocks of a README text."""
    commands = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0] if not line.lstrip().startswith("#") else ""
            for part in re.split(r"&&|;|\|\|", line):
                words = shlex.split(part)
                if words[:1] == ["nohup"]:
                    words = words[1:]
                if len(words) >= 2 and words[0] == "python" and words[1].endswith(".py"):
                    ends = [i for i, w in enumerate(words) if w.startswith((">", "2>", "&"))]
                    commands.append((words[1], words[2:ends[0]] if ends else words[2:]))
    return commands


def parse(script, arguments):
    """Parse `arguments` with the entry point's own flags; argparse's SystemExit(2) if one is wrong."""
    assert script in ENTRY_POINTS, f"{script} is not an entry point of this project"
    return importlib.import_module(script[:-3]).make_parser().parse_args(arguments)


def test_every_readme_command_parses_with_its_entry_points_flags():
    commands = readme_commands(open(os.path.join(ROOT, "README.md")).read())
    assert {"model.py", "train.py", "translate.py", "app.py"} <= {script for script, _ in commands}
    for script, arguments in commands:
        parse(script, arguments)


def test_the_checks_catch_a_broken_link_and_an_unknown_flag(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](page.md#title) [gone](missing.png) [bad anchor](page.md#nothing)\n")
    assert broken_links(str(page)) == ["missing.png", "page.md#nothing"]
    commands = readme_commands("```bash\npython train.py --epochs 5 && python translate.py --no-such-flag x\n```\n")
    assert commands == [("train.py", ["--epochs", "5"]), ("translate.py", ["--no-such-flag", "x"])]
    parse(*commands[0])
    with pytest.raises(SystemExit):
        parse(*commands[1])
