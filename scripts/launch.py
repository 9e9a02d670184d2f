#!/usr/bin/env python
"""Run a training script as a distributed dist_sync job through MXNet's shipped launcher.

All options are MXNet's tools/launch.py options (-n workers, -s servers, --launcher
local|ssh|mpi|sge|yarn, -H hostfile, ...); the command to run follows them. --launcher defaults
to local here (MXNet's default is ssh): every process runs on this machine over loopback. See gluon_tricks/launch.py for what
is patched in MXNet's launcher (Python 3.9+ compatibility, loopback addresses, stopping the job
when a worker fails). Verified here with the local launcher on one CPU machine only.

example:
  python scripts/launch.py -n 2 -s 1 --launcher local \\
      python scripts/train_cifar.py --kv-store dist_sync --batch-size 64 --save-dir runs/dist
"""
import sys

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
    from gluon_tricks.launch import main
    main()
