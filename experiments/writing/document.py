"""A report as a list of blocks, rendered to Markdown and to self-contained HTML.

Building the content once and rendering it twice keeps the two formats saying the same thing.
Everything that came from data or config is plain text: the HTML renderer escapes it (Jinja2
autoescaping), the Markdown renderer escapes table pipes. Only the system card, which ships
with the package, is rendered from Markdown.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markdown
from markupsafe import Markup

from audit.report import markdown_table


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: Sequence[str]


@dataclass(frozen=True)
class Caveat:
    title: str
    text: str


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str
    relative_to: Path | None = None


@dataclass(frozen=True)
class Card:
    markdown_text: str


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Details:
    """A section a reader opens on demand: ``<details>`` in HTML, a plain section in Markdown.

    The title is a heading of ``level`` (inside the ``<summary>`` in HTML); ``blocks`` are
    any blocks, nested ``Details`` included; ``open`` shows it unfolded.
    """

    title: str
    blocks: Sequence[object]
    level: int = 2
    open: bool = False


@dataclass
class Document:
    """A titled sequence of blocks."""

    title: str
    blocks: list[object] = field(default_factory=list)

    def add(self, *blocks: object) -> Document:
        self.blocks.extend(blocks)
        return self

    def to_markdown(self) -> str:
        """Render as GitHub-flavoured Markdown (figures as relative image links)."""
        return "\n".join([f"# {self.title}", "", *_markdown_lines(self.blocks)])

    def to_html(self) -> str:
        """Render as one self-contained HTML page, figures embedded, data escaped.

        Sections in :class:`Details` open on a click, and every table sorts by a column when
        its header is clicked (an inline script; the page loads nothing from the network).
        """
        return _template().render(title=self.title, blocks=_html_blocks(self.blocks))


def _markdown_lines(blocks: Sequence[object]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        match block:
            case Heading(text, level):
                out += ["#" * level + " " + text, ""]
            case Paragraph(text):
                out += [text, ""]
            case Bullets(items):
                out += [f"- {item}" for item in items] + [""]
            case Caveat(title, text):
                out += [f"> **{title}.** {text}", ""]
            case Table(header, rows, caption):
                if caption:
                    out += [caption, ""]
                out += [markdown_table(header, rows), ""]
            case Figure(path, caption, relative_to):
                target = path.relative_to(relative_to) if relative_to else path
                out += [f"![{caption}]({target.as_posix()})", "", f"*{caption}*", ""]
            case Card(text):
                out += [text.strip(), ""]
            case Code(text):
                out += ["```", text, "```", ""]
            case Details(title, inner, level, _):
                out += ["#" * level + " " + title, "", *_markdown_lines(inner)]
    return out


def _html_blocks(blocks: Sequence[object]) -> list[tuple[str, object]]:
    rendered: list[tuple[str, object]] = []
    for block in blocks:
        if isinstance(block, Figure):
            data = base64.b64encode(block.path.read_bytes()).decode("ascii")
            rendered.append(("figure", {"src": f"data:image/png;base64,{data}",
                                        "caption": block.caption}))
        elif isinstance(block, Card):
            html = markdown.markdown(block.markdown_text, extensions=["tables"])
            rendered.append(("card", Markup(html)))  # noqa: S704 - shipped text, not data
        elif isinstance(block, Details):
            rendered.append(("details", {"title": block.title, "level": block.level,
                                         "open": block.open,
                                         "blocks": _html_blocks(block.blocks)}))
        else:
            rendered.append((type(block).__name__.lower(), block))
    return rendered


def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("experiments.writing", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )
    return environment.get_template("report.html.j2")
