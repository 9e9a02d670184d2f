"""The tables of published models, written from the manifest: ``model_zoo/README.md`` and the
docs print these, so a figure changes in one place (the manifest) and everywhere at once."""
import os

from ..models import construct
from ..models.complexity import complexity
from ..models.registry import builder, natural_key
from .catalog import REPOSITORY, entries
from ..errors import BadInput

BEGIN, END = "<!-- zoo-table: begin (python -m gluon_tricks.zoo table --write) -->", "<!-- zoo-table: end -->"


def rows(gluoncv=None):
    """One dict per published version (ours, or GluonCV's with ``gluoncv=True``; both if None),
    with parameters and multiply-adds counted from the architecture's graph."""
    out = []
    for e in sorted(entries(), key=lambda e: (natural_key(e.name), not e.default)):
        if gluoncv is not None and (e.source == "gluoncv") != gluoncv:
            continue
        net = construct(e.architecture, **dict(e.settings, classes=e.inputs.classes))
        params, macs = complexity(net, (e.inputs.channels, e.inputs.input_size, e.inputs.input_size))
        out.append(dict(entry=e, params_m=params / 1e6, gmacs=macs / 1e9))
    return out


def _pct(value):
    return "" if value is None else "%.2f" % value


def _link(path, text):
    """A link from model_zoo/README.md: repository paths become relative, URLs stay."""
    if not path:
        return ""
    if "://" not in path:
        path = os.path.relpath(os.path.join(REPOSITORY, path), os.path.join(REPOSITORY, "model_zoo"))
    return "[%s](%s)" % (text, path)


def _rst_link(path, text):
    """A link on the docs site: URLs as links, repository files by their path."""
    if not path:
        return ""
    return "`%s <%s>`__" % (text, path) if "://" in path else "%s: ``%s``" % (text, path)


def _machine(m):
    return "%s, %d cores" % (m.get("cpu", "?"), m.get("cores", 0)) if m else ""


def ours_table(link=_link, code="`%s`"):
    """This repository's models: what they score, cost and took to train, and how to redo it.
    (header, rows of cell strings)."""
    header = ["name", "data set", "top-1 %", "top-5 %", "params (M)", "GMACs", "trained in", "machine",
              "recipe, log", "command"]
    body = []
    for r in rows(gluoncv=False):
        e = r["entry"]
        minutes = "%.1f min" % (e.train_time_s / 60) if e.train_time_s else ""
        body.append([code % e.name, e.inputs.eval_set, _pct(e.top1), _pct(e.top5), "%.3f" % r["params_m"],
                     "%.3f" % r["gmacs"], minutes, _machine(e.machine),
                     ", ".join(filter(None, [link(e.recipe, "recipe"), link(e.log, "log")])),
                     code % e.command if e.command else ""])
    return header, body


def gluoncv_table(link=_link, code="`%s`"):
    """GluonCV's published weights, with who builds the network they load into (this package or
    GluonCV), its published accuracy and commands."""
    header = ["name", "version", "network built by", "data set", "input", "top-1 %", "top-5 %", "params (M)", "GMACs",
              "recipe, log"]
    body = []
    for r in rows(gluoncv=True):
        e = r["entry"]
        built_by = "GluonCV" if builder(e.architecture) == "gluoncv" else "gluon_tricks"
        body.append([code % e.name, e.tag + ("" if e.default else " (older)"), built_by,
                     e.inputs.eval_set.split(" (")[0], "%d px" % e.inputs.input_size,
                     _pct(e.top1), _pct(e.top5), "%.2f" % r["params_m"], "%.2f" % r["gmacs"],
                     ", ".join(filter(None, [link(e.recipe, "script"), link(e.log, "log")]))])
    return header, body


def _markdown(table):
    header, body = table
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] +
                      ["| " + " | ".join(row) + " |" for row in body])


def _rst(table, title):
    header, body = table
    lines = [".. list-table:: " + title, "   :header-rows: 1", ""]
    for row in [header] + body:
        lines.append("   * - " + (row[0] or "\\"))  # an empty cell must still be a list item
        lines.extend("     - " + (cell or "") for cell in row[1:])
    return "\n".join(lines)


def ours_markdown():
    return _markdown(ours_table())


def gluoncv_markdown():
    return _markdown(gluoncv_table())


def rst():
    """Both tables for the docs site (``docs/conf.py`` writes them at build time)."""
    return (_rst(ours_table(_rst_link, "``%s``"), "This repository's models") + "\n\n" +
            _rst(gluoncv_table(_rst_link, "``%s``"), "GluonCV's weights for these architectures "
                 "(its published accuracy; fetched on first use)") + "\n")


def markdown():
    return ("### This repository's models\n\n" + ours_markdown() +
            "\n\n### GluonCV's weights for these architectures (its published accuracy; fetched on first use)\n\n" +
            gluoncv_markdown())


def write(path):
    """Replace the text between the table markers in ``path``; True if it changed."""
    with open(path) as f:
        text = f.read()
    if BEGIN not in text or END not in text:
        raise BadInput("%s has no %s ... %s markers to write the table between" % (path, BEGIN, END))
    head, rest = text.split(BEGIN, 1)
    new = head + BEGIN + "\n" + markdown() + "\n" + END + rest.split(END, 1)[1]
    if new != text:
        with open(path, "w") as f:
            f.write(new)
    return new != text
