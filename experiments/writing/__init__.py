"""What every report is made of: document blocks (headings, paragraphs, tables, figures)
rendered to Markdown and self-contained HTML, country names for group codes, the HTML
template, and claims: the record behind every number a sentence prints (here, below the
systems, so that an adapter renders its own headlines from claims as the reports do).

May import: config, errors, version, :mod:`audit`. Imported by every room above it (systems,
reports, engine, sweeps, the command line).
"""
