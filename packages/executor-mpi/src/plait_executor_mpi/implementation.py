"""Which MPI is installed, and what its launcher and the mpi4py wheel need.

Open MPI and MPICH take different launcher flags (MPICH's ``-ppn`` fails under Open
MPI, which Parsl's prefix gets wrong), and the ABI-universal mpi4py wheel must be
told which library to load. So the executor resolves, once at start and in the
submitting process, the launcher program and the MPI it belongs to, and fails
there, naming what to install, rather than in every task. The manager receives the
result on its command line and builds each task's prefix and environment from it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

OPENMPI = "openmpi"
MPICH = "mpich"
IMPLEMENTATIONS = (OPENMPI, MPICH)
#: the task launchers an MPIExecutor composes prefixes for
TASK_LAUNCHERS = ("mpiexec", "mpirun", "srun", "aprun")

#: how to install each implementation's launcher and library on Debian/Ubuntu
INSTALL = {
    OPENMPI: "apt-get install openmpi-bin (Debian/Ubuntu) or your site's Open MPI module",
    MPICH: "apt-get install mpich (Debian/Ubuntu) or your site's MPICH module",
}
#: the shared library each implementation's programs (and the mpi4py wheel) load
LIBRARIES = {OPENMPI: ("libmpi.so.40",), MPICH: ("libmpi.so.12", "libmpich.so.12")}
#: Slurm's MPI plugin (``srun --mpi``) for each implementation
SRUN_MPI = {OPENMPI: "pmix", MPICH: "pmi2"}
#: seconds ``<launcher> --version`` may take
VERSION_TIMEOUT = 10.0


@dataclass(frozen=True)
class MPISetup:
    """How tasks are launched: ``launcher`` (``mpiexec``, ``mpirun``, ``srun``,
    ``aprun``), the ``program`` that runs it (``mpiexec.mpich`` on Debian when MPICH
    is asked for beside Open MPI), and the MPI ``implementation`` (None: unknown,
    no implementation-specific flags)."""

    launcher: str
    program: str
    implementation: str | None


def identify(version_text: str) -> str | None:
    """The implementation a launcher's ``--version`` output belongs to, if known."""
    text = version_text.lower()
    if "open mpi" in text or "openrte" in text or "open-mpi" in text:
        return OPENMPI
    if "hydra" in text or "mpich" in text or "intel(r) mpi" in text:
        return MPICH  # Intel MPI is MPICH-derived: same flags
    return None


def detect(program: str) -> str | None:
    """The implementation of launcher ``program`` (run with ``--version``), if known."""
    try:
        out = subprocess.run(
            [program, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return identify(out.stdout + out.stderr)


def _library_dirs() -> list[str]:
    """Directories the dynamic loader searches, ``LD_LIBRARY_PATH`` first."""
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if d]
    try:
        out = subprocess.run(
            ["ldconfig", "-p"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        if "=>" in line:
            directory = os.path.dirname(line.split("=>", 1)[1].strip())
            if directory not in dirs:
                dirs.append(directory)
    for directory in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        if directory not in dirs:
            dirs.append(directory)
    return dirs


def find_library(name: str) -> str | None:
    """The path of shared library ``name`` (``libmpich.so.12``) the loader would find."""
    for directory in _library_dirs():
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    return None


def resolve(launcher: str, implementation: str | None) -> MPISetup:
    """Find the launcher program and its MPI on this machine.

    For ``mpiexec``/``mpirun`` with an ``implementation`` asked for, Debian's
    ``mpiexec.<implementation>`` is preferred (both MPIs installed: plain ``mpiexec``
    is Open MPI's). Without one, the program's ``--version`` tells. For ``srun`` the
    implementation (for ``--mpi``) is the one asked for, else that of ``mpiexec`` if
    there is one.

    :raises LookupError: with what is missing and how to install it.
    """
    if launcher in ("srun", "aprun"):
        if shutil.which(launcher) is None:
            where = "Slurm's srun" if launcher == "srun" else "Cray's aprun (ALPS)"
            raise LookupError(
                f"mpi_launcher={launcher!r}, but there is no {launcher} on PATH here: it "
                f"launches ranks with {where}, so run the workflow where {launcher} exists, "
                "or choose mpi_launcher='mpiexec'"
            )
        if implementation is None and launcher == "srun" and shutil.which("mpiexec"):
            implementation = detect("mpiexec")
        return MPISetup(launcher, launcher, implementation)
    names = [launcher]
    if implementation is not None:
        names.insert(0, f"{launcher}.{implementation}")
    program = next((n for n in names if shutil.which(n)), None)
    if program is None:
        install = (
            INSTALL[implementation]
            if implementation
            else f"{INSTALL[OPENMPI]}; or {INSTALL[MPICH]}"
        )
        raise LookupError(
            f"mpi_launcher={launcher!r}: no {' or '.join(names)} on PATH here. Install an MPI: "
            f"{install}"
        )
    found = detect(program)
    if found is None and implementation is None:
        raise LookupError(
            f"cannot tell which MPI {program} belongs to (`{program} --version` names neither "
            "Open MPI nor MPICH); pass mpi_implementation='openmpi' or 'mpich'"
        )
    if implementation is not None and found not in (None, implementation):
        raise LookupError(
            f"mpi_implementation={implementation!r}, but {shutil.which(program)} is {found}'s "
            f"launcher. Install {implementation}: {INSTALL[implementation]}; or use "
            f"mpi_implementation={found!r}"
        )
    implementation = implementation or found
    assert implementation is not None
    if not any(find_library(name) for name in LIBRARIES[implementation]):
        raise LookupError(
            f"{program} is {implementation}'s launcher, but its library "
            f"({' or '.join(LIBRARIES[implementation])}) is not installed, so ranks cannot "
            f"start. Install it: {INSTALL[implementation]}"
        )
    return MPISetup(launcher, program, implementation)


def abi_environment(implementation: str | None, link_dir: str) -> dict[str, str]:
    """Environment that lets the ABI-universal mpi4py wheel load this MPI's library.

    The wheel picks its Open MPI or MPICH variant from ``MPI4PY_MPIABI``; the MPICH
    variant loads ``libmpi.so.12``, which Debian names ``libmpich.so.12``, so a
    ``libmpi.so.12`` link to it is made in ``link_dir`` and put first on
    ``LD_LIBRARY_PATH`` when the system has none.
    """
    if implementation not in IMPLEMENTATIONS:
        return {}
    env = {"MPI4PY_MPIABI": implementation}
    if implementation == MPICH and find_library("libmpi.so.12") is None:
        target = find_library("libmpich.so.12")
        if target is not None:
            os.makedirs(link_dir, exist_ok=True)
            link = os.path.join(link_dir, "libmpi.so.12")
            temporary = f"{link}.{os.getpid()}"
            os.symlink(target, temporary)
            os.replace(temporary, link)  # atomic: managers of other blocks may race here
            existing = os.environ.get("LD_LIBRARY_PATH")
            env["LD_LIBRARY_PATH"] = link_dir + (os.pathsep + existing if existing else "")
    return env
