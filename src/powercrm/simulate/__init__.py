"""The synthetic marketing & billing source system (营销业务应用系统) of a Chinese supply company.

`simulate()` writes a landing folder exactly as shared/SOURCE_EXTRACTS.md specifies;
`continue_simulation()` adds one business day to such a folder.
"""

from __future__ import annotations

from .engine import continue_simulation, simulate

__all__ = ["simulate", "continue_simulation"]
