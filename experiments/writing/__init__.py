"""What every report is made of: document blocks (headings, paragraphs, tables, figures)
rendered to Markdown and self-contained HTML, country names for group codes, and the HTML
template.

May import: config, errors, version, :mod:`audit`. Imported by every room above it (systems,
reports, engine, sweeps, the command line).
"""
