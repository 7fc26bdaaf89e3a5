"""An mpi4py hello: each rank prints ``rank size node`` (the Slurm node under Slurm)."""

import os
import socket
import sys

from mpi4py import MPI

comm = MPI.COMM_WORLD
node = os.environ.get("SLURMD_NODENAME") or socket.gethostname()
lines = comm.gather(f"{comm.Get_rank()} {comm.Get_size()} {node}", root=0)
if comm.Get_rank() == 0:
    print("\n".join(lines or []), flush=True)
failing = len(sys.argv) > 1 and sys.argv[1] == "fail"
if failing and comm.Get_rank() == comm.Get_size() - 1:
    print(f"rank {comm.Get_rank()} is failing on purpose", file=sys.stderr, flush=True)
    sys.exit(7)
