"""``python -m gluon_tricks.zoo``: list, download, verify and purge published weights."""
from ..cli.zoo import main

main()
