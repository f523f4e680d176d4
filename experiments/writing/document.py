"""A report as a list of blocks, rendered to Markdown and to self-contained HTML.

Building the content once and rendering it twice keeps the two formats saying the same thing.
Everything that came from data or config is plain text: the HTML renderer escapes it (Jinja2
autoescaping), the Markdown renderer escapes table pipes. Only the system card, which ships
with the package, is rendered from Markdown.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markdown
from markupsafe import Markup, escape

from audit.controls import visible
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
    """A bulleted list. ``links`` (optional, one entry per item) gives the numbers of an item
    that the HTML report explains on hover: ``(printed number, where it comes from)``."""

    items: Sequence[str]
    links: Sequence[Sequence[tuple[str, str]]] = ()


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
        """Render as GitHub-flavoured Markdown (figures as relative image links).

        Text may carry Markdown on purpose (emphasis, a link to a file), but titles and
        labels come from data and users, so every piece of text is made inert where it
        could run: no raw HTML tag, no link to a ``javascript:`` (or ``data:``, ``vbscript:``)
        address, and control characters spelled out (see :func:`inert_markdown`).
        """
        return "\n".join([f"# {inert_markdown(self.title)}", "",
                          *_markdown_lines(self.blocks)])

    def to_html(self) -> str:
        """Render as one self-contained HTML page, figures embedded, data escaped.

        Sections in :class:`Details` open on a click, and every table sorts by a column when
        its header is clicked (an inline script; the page loads nothing from the network).
        """
        return _template().render(title=self.title, blocks=_html_blocks(self.blocks))


#: The start of an HTML tag, comment or declaration: ``<`` before a letter, ``/``, ``!``
#: or ``?``. A ``<`` before a digit or a space ("<10", "p < 0.05") starts nothing.
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
#: An inline link's or image's destination, up to its closing parenthesis or a space.
_LINK_TARGET = re.compile(r"\]\(\s*(<?)([^)\s>]*)")
#: Address schemes that run code or embed content when a rendered link is followed.
_ACTIVE_SCHEMES = ("javascript:", "vbscript:", "data:", "file:")
#: Characters browsers drop from an address before reading its scheme.
_DROPPED_IN_SCHEME = re.compile(r"[\x00-\x20\\]")


def inert_markdown(text: object) -> str:
    """Text for a Markdown report, with nothing in it that a renderer would run.

    Parameters
    ----------
    text : object
        A title, a label or a sentence (possibly with intended emphasis or file links).

    Returns
    -------
    str
        The text with control characters spelled out (:func:`audit.controls.visible`),
        every ``<`` that could open an HTML tag written ``&lt;`` (it renders as ``<``), and
        the ``(`` of a link to an active address (``javascript:``, ``data:``, also spelled
        with entities or tabs) escaped, so the link is shown as text and never followed.
    """
    shown = _TAG_START.sub("&lt;", visible(text, keep_carriage_return=False))

    def defuse(found: re.Match[str]) -> str:
        target = _DROPPED_IN_SCHEME.sub("", html.unescape(found.group(2))).lower()
        if target.startswith(_ACTIVE_SCHEMES):
            return "]\\(" + found.group(1) + found.group(2)
        return found.group(0)

    return _LINK_TARGET.sub(defuse, shown)


def _markdown_lines(blocks: Sequence[object]) -> list[str]:
    out: list[str] = []
    safe = inert_markdown
    for block in blocks:
        match block:
            case Heading(text, level):
                out += ["#" * level + " " + safe(text), ""]
            case Paragraph(text):
                out += [safe(text), ""]
            case Bullets(items):
                out += [f"- {safe(item)}" for item in items] + [""]
            case Caveat(title, text):
                out += [f"> **{safe(title)}.** {safe(text)}", ""]
            case Table(header, rows, caption):
                if caption:
                    out += [safe(caption), ""]
                out += [markdown_table([safe(h) for h in header],
                                       [[safe(c) for c in row] for row in rows]), ""]
            case Figure(path, caption, relative_to):
                target = path.relative_to(relative_to) if relative_to else path
                out += [f"![{safe(caption)}]({target.as_posix()})", "", f"*{safe(caption)}*",
                        ""]
            case Card(text):
                out += [text.strip(), ""]
            case Code(text):
                out += ["```", text, "```", ""]
            case Details(title, inner, level, _):
                out += ["#" * level + " " + safe(title), "", *_markdown_lines(inner)]
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
        elif isinstance(block, Bullets) and block.links:
            rendered.append(("bullets", Bullets([_linked(item, links) for item, links in
                                                 zip(block.items, block.links, strict=True)])))
        elif isinstance(block, Details):
            rendered.append(("details", {"title": block.title, "level": block.level,
                                         "open": block.open,
                                         "blocks": _html_blocks(block.blocks)}))
        else:
            rendered.append((type(block).__name__.lower(), block))
    return rendered


def _linked(text: str, links: Sequence[tuple[str, str]]) -> Markup:
    """``text`` escaped, each number of ``links`` wrapped in a span whose title says where it
    comes from (at its first occurrence not already marked)."""
    spans: list[tuple[int, int, str]] = []
    for number, title in links:
        for found in re.finditer(rf"(?<![\w.]){re.escape(number)}(?!\w)", text):
            if not any(s < found.end() and found.start() < e for s, e, _ in spans):
                spans.append((found.start(), found.end(), title))
                break
    out, position = [], 0
    for start, end, title in sorted(spans):
        out.append(escape(text[position:start]))
        out.append(Markup('<span class="claim" title="{}">{}</span>').format(
            title, text[start:end]))
        position = end
    out.append(escape(text[position:]))
    return Markup("").join(out)


def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("experiments.writing", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        keep_trailing_newline=True,
    )
    return environment.get_template("report.html.j2")
