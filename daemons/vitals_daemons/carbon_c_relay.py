"""Debian's carbon-c-relay: one carbon plaintext port hashing metric paths onto several
carbon-caches (the topology tests)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from vitals_daemons import process
from vitals_daemons.process import _Daemon, free_port, tcp_accepts


class CarbonCRelay(_Daemon):
    """Debian's ``carbon-c-relay`` in front of carbon-caches, on :attr:`line_port`.

    ``destinations`` are ``(host, port)`` pairs of carbon plaintext receivers (for example
    ``(cache.host, cache.line_port)``). The relay hashes each metric path onto exactly one of
    them with ``hashing`` (``fnv1a_ch`` by default; ``carbon_ch`` hashes the host only, so
    it cannot spread over caches that share 127.0.0.1 unless each member gets an
    ``=instance``, which :attr:`instances` adds). It runs in submission mode (``-s``): no
    ``carbon.relays.*`` statistics of its own land in the caches. Config ``relay.conf``.
    """

    name = "carbon-c-relay"

    def __init__(
        self,
        root: Path,
        destinations: Iterable[tuple[str, int]],
        hashing: str = "fnv1a_ch",
        replication: int = 1,
    ) -> None:
        super().__init__(root)
        self._binary = process.require_executable("carbon-c-relay")
        self.destinations = list(destinations)
        if not self.destinations:
            raise ValueError("carbon-c-relay needs at least one destination")
        self.hashing = hashing
        self.replication = replication
        self.line_port = free_port()
        self.config_path = self.root / "relay.conf"

    @property
    def instances(self) -> list[str]:
        """The hash ring members as written in the config (``host:port=instance``)."""
        return [f"{host}:{port}={chr(97 + i)}" for i, (host, port) in enumerate(self.destinations)]

    def _write_config(self) -> None:
        members = "\n".join(f"        {m}" for m in self.instances)
        self.config_path.write_text(
            f"""\
cluster caches
    {self.hashing} replication {self.replication}
{members}
    ;
listen
    type linemode
        {self.host}:{self.line_port} proto tcp
    ;
match * send to caches stop;
"""
        )

    def _command(self) -> list[str]:
        # -s: no statistics of its own; -E: keep idle connections; -w 1: one worker is
        # plenty on loopback and keeps the per-destination order easy to reason about.
        return [self._binary, "-f", str(self.config_path), "-s", "-E", "-w", "1"]

    def _is_ready(self) -> bool:
        return tcp_accepts(self.host, self.line_port)

    def route(self, paths: Iterable[str]) -> dict[str, tuple[str, int]]:
        """Where the relay's own hash ring sends each of ``paths`` (its ``-t`` test mode)."""
        paths = list(paths)
        result = subprocess.run(
            [self._binary, "-f", str(self.config_path), "-t", "-s"],
            input="".join(f"{p} 1 1\n" for p in paths).encode(),
            capture_output=True,
            check=False,
            timeout=60,
        )
        members = {f"{host}:{port}": (host, port) for host, port in self.destinations}
        routes: dict[str, tuple[str, int]] = {}
        current = None
        for line in result.stdout.decode(errors="replace").splitlines():
            text = line.strip()
            if text.startswith("* -> "):
                current = text[len("* -> ") :]
            elif current is not None and text in members:
                routes.setdefault(current, members[text])
        return routes
