"""docs/embedding.md: its host program runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "embedding.md"


def test_the_embedding_example_runs(capsys):
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1
    exec(compile(blocks[0], str(DOC), "exec"), {"__name__": "embedding_example"})
    printed = capsys.readouterr().out
    assert "devices 1" in printed
    assert "nickname Ada" in printed
    assert "# HELP aura_agent_info" in printed
    assert "restarted as device-" in printed
