"""History logic, independent of where the data came from.

- lines.py: `created_by` → the repo-info Dockerfile line(s), every era, and back;
- instructions.py: `created_by` → a structured instruction for the Dockerfile renderer,
  comparison and audit;
- normalize.py: one spelling per instruction, so that builders' variants compare equal;
- layers.py: history steps ↔ diff_ids ↔ manifest layers.
"""

from .instructions import (
    WINDOWS_DEFAULT_SHELL,
    Instruction,
    hashed_source,
    image_instructions,
    parse_instruction,
)
from .layers import link_layers
from .lines import (
    BUILDKIT_AWARE_ERA,
    CURRENT_ERA,
    DEFAULT_SHELL,
    DEFAULT_SHELL_PREFIX,
    UNPARSABLE,
    SplitCommand,
    created_by_from_repo_info,
    printed_before_buildkit_awareness,
    repo_info_text,
    shell_prefixes,
    split_created_by,
)

__all__ = [
    "BUILDKIT_AWARE_ERA",
    "CURRENT_ERA",
    "DEFAULT_SHELL",
    "DEFAULT_SHELL_PREFIX",
    "UNPARSABLE",
    "WINDOWS_DEFAULT_SHELL",
    "Instruction",
    "SplitCommand",
    "created_by_from_repo_info",
    "hashed_source",
    "image_instructions",
    "link_layers",
    "parse_instruction",
    "printed_before_buildkit_awareness",
    "repo_info_text",
    "shell_prefixes",
    "split_created_by",
]
