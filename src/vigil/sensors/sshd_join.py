"""Join sshd lines by process: an event without an address gets it from another line of
the same sshd process (host + pid), as fail2ban's multi-line sshd filter does.

Some sshd messages never name the client: `Disconnecting: Too many authentication
failures for root [preauth]` (OpenSSH < 7), `kex_exchange_identification: Connection closed
by remote host`, `User root not allowed because account is locked`, `fatal: Unable to
negotiate a key exchange method`. The address is on an earlier line of the same process
(`Connection from <ip> port <n>` at LogLevel VERBOSE, `Invalid user ... from <ip>`) or on
the next one (`Connection closed by <ip> port <n>`). So:

- a line with an address remembers it for its process, until a line that ends the
  connection (closed, reset, disconnected);
- a line without one takes the remembered address at once, or waits (at most
  `hold_seconds` of the caller's clock, and `MAX_HELD` lines) for the next line of its
  process that has one; it is then emitted, with `args["joined_address"] = True`, just
  before that line. One that waits in vain is emitted as it is: never lost.

Lines of other programs, and sshd lines without a pid (`sshd -E` files), pass through.
Time is the caller's: the sensors pass their clock, a replay the events' own stamps.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import msgspec

from vigil.events.model import Event

#: kinds after which sshd is done with the connection: the next address-less line of
#: this pid belongs to a new connection (pids are reused)
END_KINDS = frozenset({"auth.ssh_preauth_disconnect", "auth.ssh_connection_closed",
                       "auth.ssh_disconnect", "auth.ssh_received_disconnect"})
#: lines held per connection at most (a flood of address-less lines cannot grow memory)
MAX_HELD = 32
DEFAULT_HOLD_SECONDS = 5.0
#: connections remembered at once (least recently seen forgotten first)
DEFAULT_MAX_CONNECTIONS = 20_000
#: a connection silent for this long is forgotten (sshd's LoginGraceTime is 120 s)
FORGET_AFTER_NS = 600 * 10**9
_ADDRESS_KEYS = ("src_ip", "src_host", "src_port")


@dataclass
class _Connection:
    address: dict[str, Any] | None = None
    ended: bool = False
    seen: int = 0
    #: (event, the caller's time when it arrived)
    held: list[tuple[Event, int]] = field(default_factory=list)


class SshdJoiner:
    """Fill in the address of address-less sshd events from lines of the same process."""

    def __init__(self, hold_seconds: float = DEFAULT_HOLD_SECONDS,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS) -> None:
        self._hold_ns = int(hold_seconds * 1e9)
        self._max = max_connections
        self._conns: OrderedDict[tuple[str | None, int], _Connection] = OrderedDict()
        #: the connections holding events (so `expire` need not look at every one)
        self._waiting: set[tuple[str | None, int]] = set()
        self.joined = 0
        self.unjoined = 0

    def push(self, event: Event, now_ns: int) -> list[Event]:
        """The events ready to go on after `event` arrived (possibly none, or held ones
        followed by it), in the order their process wrote them."""
        if event.args.get("service") != "sshd" or event.proc.pid is None:
            return [event]
        key = (event.hostname, event.proc.pid)
        conn = self._conns.get(key)
        released: list[Event] = []
        if conn is None:
            conn = self._conns[key] = _Connection()
            released = self._evict()
        else:
            self._conns.move_to_end(key)
        conn.seen = now_ns
        out = self._join(conn, event, now_ns)
        if conn.held:
            self._waiting.add(key)
        else:
            self._waiting.discard(key)
        return released + out

    def _join(self, conn: _Connection, event: Event, now_ns: int) -> list[Event]:
        address = {k: event.args[k] for k in _ADDRESS_KEYS if k in event.args}
        if "src_ip" in address or "src_host" in address:
            out = [self._with(ev, address) for ev, _t in conn.held]
            self.joined += len(conn.held)
            conn.held = []
            conn.address, conn.ended = address, event.type in END_KINDS
            out.append(event)
            return out
        if conn.address is not None and not conn.ended:
            self.joined += 1
            return [self._with(event, conn.address)]
        conn.held.append((event, now_ns))
        if len(conn.held) > MAX_HELD:
            self.unjoined += 1
            return [conn.held.pop(0)[0]]
        return []

    def expire(self, now_ns: int) -> list[Event]:
        """Held events that waited `hold_seconds`, released without an address; forgets
        connections silent for long."""
        out: list[Event] = []
        horizon = now_ns - self._hold_ns
        for key in [k for k in self._waiting if self._conns[k].held[0][1] <= horizon]:
            conn = self._conns[key]
            out.extend(ev for ev, t in conn.held if t <= horizon)
            conn.held = [(ev, t) for ev, t in conn.held if t > horizon]
            if not conn.held:
                self._waiting.discard(key)
        self.unjoined += len(out)
        # least recently seen first: stop at the first connection still fresh
        while self._conns:
            key, conn = next(iter(self._conns.items()))
            if now_ns - conn.seen <= FORGET_AFTER_NS or conn.held:
                break
            del self._conns[key]
        return out

    def drain(self) -> list[Event]:
        """Every held event (end of input), without an address."""
        out = [ev for conn in self._conns.values() for ev, _t in conn.held]
        self.unjoined += len(out)
        self._conns.clear()
        self._waiting.clear()
        return out

    def held(self) -> int:
        """Events waiting for their address."""
        return sum(len(self._conns[k].held) for k in self._waiting)

    def _evict(self) -> list[Event]:
        """Forget the least recently seen connections past the bound; their held events
        go on without an address."""
        out: list[Event] = []
        while len(self._conns) > self._max:
            key, old = self._conns.popitem(last=False)
            self._waiting.discard(key)
            out.extend(ev for ev, _t in old.held)
        self.unjoined += len(out)
        return out

    @staticmethod
    def _with(event: Event, address: dict[str, Any]) -> Event:
        return msgspec.structs.replace(event, args={**event.args, **address,
                                                    "joined_address": True})
