"""README and CI stay in step: .ci/run runs README's test command verbatim."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text):
    blocks, inside, cur = [], False, []
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                blocks.append("\n".join(cur).strip())
                cur = []
            inside = not inside and line.strip() == "```bash"
            continue
        if inside:
            cur.append(line)
    return blocks


def test_readme_opens_with_two_setup_commands():
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    demo, tests = blocks[0], blocks[1]
    assert "fastlr demo" in demo and "pip install" in demo
    assert "pytest" in tests and "asv check" in tests and "pip install" in tests


def test_ci_runs_readme_test_command_verbatim():
    tests_cmd = _bash_blocks((ROOT / "README.md").read_text())[1]
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert tests_cmd in ci_lines
