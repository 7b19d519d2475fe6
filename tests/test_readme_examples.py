"""README's console examples are real output: every ``$ rebalance ...`` line of its
``console`` blocks runs, in order, in a fresh folder holding the sample book, and prints
what README shows.

In README's expected output a line ``...`` stands for any number of lines and ``...``
inside a line for any text (a run id, an elapsed time). A command whose output ends with
``(Ctrl-C stops)`` serves until interrupted: once it has printed its lines it gets SIGINT
and must stop.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
ELLIPSIS = "..."
COMMAND_SECONDS = 600
SERVING = "(Ctrl-C stops)"
STOP_SECONDS = 30


@dataclass(frozen=True)
class Example:
    command: str
    expected: tuple[str, ...]
    line: int  # README line of the command


def console_examples(text: str) -> list[Example]:
    """The commands of README's ``console`` blocks with the lines each prints."""
    examples: list[Example] = []
    command, expected, start = None, [], 0
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            if inside and command is not None:
                examples.append(Example(command, tuple(expected), start))
                command = None
            inside = line.strip() == "```console"
            continue
        if not inside:
            continue
        if line.startswith("$ "):
            if command is not None:
                examples.append(Example(command, tuple(expected), start))
            command, expected, start = line[2:], [], number
        else:
            expected.append(line)
    return examples


def _line_pattern(line: str) -> str:
    return ".*".join(re.escape(part) for part in line.split(ELLIPSIS))


def output_pattern(expected: tuple[str, ...]) -> re.Pattern[str]:
    """A whole-output pattern: a line ``...`` matches any lines, ``...`` in a line any text."""
    parts = ["(?:.*\n)*?" if line == ELLIPSIS else _line_pattern(line) + "\n" for line in expected]
    return re.compile("".join(parts))


def _interruptible() -> None:
    """Ctrl-C reaches the command as at a terminal, even when the tests themselves run in
    the background of a shell without job control (which starts them ignoring SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_example(example: Example, folder: Path) -> str:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"REBALANCE_HOME", "REBALANCE_BOOK", "DAGSTER_HOME"}
    }
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "100"
    with subprocess.Popen(
        ["bash", "-o", "pipefail", "-c", f"exec {example.command}"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_interruptible,
    ) as process:
        assert process.stdout is not None
        if example.expected and example.expected[-1].endswith(SERVING):
            printed = "".join(process.stdout.readline() for _ in example.expected)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=STOP_SECONDS)
            return printed
        printed, _ = process.communicate(timeout=COMMAND_SECONDS)
        return printed


def test_the_parser_reads_commands_and_their_lines() -> None:
    text = "```console\n$ a\none\n...\n$ b\n```\n```bash\n$ c\n```\n"
    assert console_examples(text) == [Example("a", ("one", "..."), 2), Example("b", (), 5)]
    assert output_pattern(("x ... y", "...", "z")).fullmatch("x 12 y\np\nq\nz\n")
    assert not output_pattern(("x ... y", "z")).fullmatch("x 12 y\np\nz\n")


def test_readme_console_examples_print_what_readme_shows(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "data" / "sample", tmp_path / "data" / "sample")
    examples = console_examples(README.read_text())
    assert examples, "README has no console examples"
    mismatches = [
        f"README line {example.line}: `{example.command}` printed:\n{printed}"
        for example in examples
        if not output_pattern(example.expected).fullmatch(printed := run_example(example, tmp_path))
    ]
    assert not mismatches, "\n".join(mismatches)
