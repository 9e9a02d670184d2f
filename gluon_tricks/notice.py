"""One clean line to the user: an image skipped, a slower path taken. Not a Python warning,
which would print the line of our own source that raised it."""
import sys


def notice(text):
    """``gluon_tricks: <text>`` on stderr, above any progress bar."""
    from tqdm import tqdm
    tqdm.write("gluon_tricks: %s" % text, file=sys.stderr)
