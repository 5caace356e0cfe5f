"""Prompt templates as files: YAML front matter (id, version, inputs) over a Jinja body.

The body is split into chat messages by lines ``[system]``, ``[user]`` and ``[assistant]``.
Rendering uses a sandboxed environment with StrictUndefined, so a missing variable fails loudly.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from benchmaker.errors import PromptError
from benchmaker.llm.types import Message

_SECTION = re.compile(r"^\[(system|user|assistant)\]\s*$", re.MULTILINE)
_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, autoescape=False
)


def default_prompts_dir() -> Path:
    """The repository's ``prompts/``, or the copy packaged into a wheel."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir.parent / "prompts", package_dir / "_prompts"):
        if candidate.is_dir():
            return candidate
    raise PromptError(f"no prompts directory found next to {package_dir}")


class PromptFrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    version: int = Field(ge=1)
    description: str
    inputs: tuple[str, ...]


class PromptTemplate:
    def __init__(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        if not text.startswith("---\n"):
            raise PromptError(f"{path}: missing YAML front matter")
        try:
            _, header, body = text.split("---\n", 2)
            self.front = PromptFrontMatter.model_validate(yaml.safe_load(header))
        except (ValueError, yaml.YAMLError) as error:
            raise PromptError(f"{path}: bad front matter: {str(error).splitlines()[0]}") from None
        self.path = path
        self.body = body
        try:
            ast = _ENV.parse(body)
            self.template = _ENV.from_string(body)
        except TemplateError as error:
            raise PromptError(f"{path}: {error}") from None
        used = meta.find_undeclared_variables(ast)
        if used != set(self.front.inputs):
            raise PromptError(
                f"{path}: declared inputs {sorted(self.front.inputs)} differ from the variables used {sorted(used)}"
            )

    @property
    def id(self) -> str:
        return self.front.id

    @property
    def ref(self) -> str:
        """``id@version#sha`` – recorded with every item so a prompt change is visible."""
        return f"{self.front.id}@{self.front.version}#{hashlib.sha256(self.body.encode()).hexdigest()[:8]}"

    def render(self, **variables: Any) -> tuple[Message, ...]:
        missing = set(self.front.inputs) - set(variables)
        extra = set(variables) - set(self.front.inputs)
        if missing or extra:
            raise PromptError(f"prompt {self.id}: missing variables {sorted(missing)}, unexpected {sorted(extra)}")
        rendered = self.template.render(**variables)
        parts = _SECTION.split(rendered)
        if parts[0].strip():
            raise PromptError(f"prompt {self.id}: text before the first [system]/[user] section")
        messages = tuple(
            Message(role=role, content=content.strip()) for role, content in zip(parts[1::2], parts[2::2], strict=True)
        )
        if not messages:
            raise PromptError(f"prompt {self.id}: no [system]/[user] sections")
        return messages


class PromptLibrary:
    """All templates under a directory, by id."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_prompts_dir()
        self.templates: dict[str, PromptTemplate] = {}
        for path in sorted(self.root.rglob("*.md.j2")):
            template = PromptTemplate(path)
            if template.id in self.templates:
                raise PromptError(f"duplicate prompt id {template.id} in {path}")
            self.templates[template.id] = template

    def get(self, prompt_id: str) -> PromptTemplate:
        try:
            return self.templates[prompt_id]
        except KeyError:
            raise PromptError(f"unknown prompt {prompt_id!r}; known: {sorted(self.templates)}") from None


@cache
def default_library() -> PromptLibrary:
    return PromptLibrary()
