"""`ssh_bruteforce`: password guessing against sshd, from the `auth.*` log events.

Every failed login attempt becomes one detection, so the alert batcher's summary counts
attempts and sources exactly ("SSH brute force: 49 attempts from 12 IPs ... Top attacker
185.1.2.3 (23 attempts)"); the detection's priority and `rule_id` say how bad the picture
is at that moment:

| rule_id                              | when                                              | priority |
|--------------------------------------|---------------------------------------------------|----------|
| `ssh_bruteforce.attempt`             | a failed attempt, no threshold crossed            | Notice   |
| `ssh_bruteforce.per_ip`              | >= `max_failures` attempts from the IP in `window_seconds` | Warning |
| `ssh_bruteforce.user_enum`           | >= `enum_users` distinct invalid user names from the IP | Warning |
| `ssh_bruteforce.distributed`         | >= `distributed_ips` IPs failing on one account   | Warning  |
| `ssh_bruteforce.success_after_burst` | a login accepted from an IP past `success_after_failures` | Critical |

The defaults follow fail2ban's sshd jail (5 failures in 10 minutes) and CrowdSec's
`ssh-bf_user-enum` (5 distinct user names). A route with `min_priority = "warning"` thus
pages only for real brute force, while a route without it sees every attempt, batched.

An *attempt* is one guess, not one log line: sshd logs a failed password as up to three
lines (`pam_unix ... authentication failure`, `Failed password ...`, then `Connection
closed by authenticating user ... [preauth]`), and an unknown user adds `Invalid user ...`.
Lines are grouped per sshd connection (host + pid) so that each guess counts once. What
each kind of line means is `role_of` (docs/detectors.md has the table): guesses, lines
that name a user and open a guess, verdicts (the connection failed: counted only if it
had no counted guess yet), and *probes* (connections that never reached a user name:
scans, banner grabs, bad key exchanges) which count, once per connection, only in
`mode = "aggressive"` (fail2ban's `ddos`/`aggressive` modes).

Time is the events' own timestamps, so replays and tests behave like live runs; one clock
per host (`vigil.detectors.source_clock`) keeps a mis-stamped line from moving "now" for
every other IP: a line far ahead of it counts in its own IP only until a second line
confirms the jump, one far behind counts at the clock.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from vigil.config_errors import ConfigError
from vigil.detections import Detection, Entity
from vigil.detectors.expiring_map import ExpiringMap
from vigil.detectors.params import minimum, read_params
from vigil.detectors.source_clock import TRUSTED, Placement, SourceClocks
from vigil.events.model import Event
from vigil.priority import Priority

NAME = "ssh_bruteforce"
TITLE = "SSH brute force"

# What a line means for counting (`role_of`):
#: one password (or key) guess; a PAM failure and its `Failed ...` line are one guess
GUESS = "guess"
#: names a user and opens a guess that the next `Failed ...` line confirms
ANNOUNCE = "announce"
#: the connection failed (too many failures, closed after naming a user, the client gave
#: up): one attempt if the connection had none counted yet
VERDICT = "verdict"
#: never reached a user name (scan, banner grab, bad key exchange, timeout): one attempt
#: per connection in aggressive mode only
PROBE = "probe"
SUCCESS = "success"

#: lines after which the connection is over (its next line is a new connection)
_ENDS = frozenset({"auth.ssh_preauth_disconnect", "auth.ssh_connection_closed",
                   "auth.ssh_disconnect"})
_ACCEPTED = "auth.ssh_accepted"
MODES = ("normal", "aggressive")

_TAGS = {
    "attempt": ("attack.credential_access", "T1110", "T1110.001"),
    "per_ip": ("attack.credential_access", "T1110", "T1110.001"),
    "user_enum": ("attack.reconnaissance", "T1589", "attack.credential_access", "T1110"),
    "distributed": ("attack.credential_access", "T1110", "T1110.001"),
    "success_after_burst": ("attack.credential_access", "T1110", "attack.initial_access",
                            "T1078"),
}
#: evidence kept per IP for the detection that crosses a threshold
_EVIDENCE = 20
#: timestamps kept per key; counts saturate there (far above any threshold)
_MAX_HISTORY = 10_000
#: how long a silent sshd connection is remembered (sshd's LoginGraceTime is 120 s)
_CONNECTION_NS = 600 * 10**9
#: attempts one `message repeated N times` line may stand for: one sshd connection makes
#: at most MaxAuthTries (default 6) guesses, so a larger N is not believed
_MAX_REPEAT = 10


def role_of(event: Event) -> str | None:
    """What `event` means for counting guesses (GUESS, ANNOUNCE, VERDICT, PROBE, SUCCESS),
    None when nothing."""
    t, args = event.type, event.args
    if t == "auth.ssh_failed":
        if args.get("method") == "none":
            return None  # the client asking which methods exist, not a guess
        if args.get("method") == "publickey" and not args.get("invalid_user"):
            # clients offer every key they have: not a guess (fail2ban's default too);
            # if none works, the connection's verdict line counts once
            return None
        return GUESS
    if t == "auth.ssh_pam_failure":
        return GUESS
    if t in ("auth.ssh_invalid_user", "auth.ssh_user_not_allowed"):
        return ANNOUNCE
    if t == "auth.ssh_too_many_failures":
        return VERDICT
    if t == "auth.ssh_preauth_disconnect":
        return VERDICT if args.get("user") or args.get("reason") else PROBE
    if t == "auth.ssh_received_disconnect":
        if args.get("result") == "failure":
            return VERDICT
        return PROBE if args.get("preauth") else None
    if t in ("auth.ssh_handshake_failed", "auth.ssh_protocol_error", "auth.ssh_auth_timeout",
             "auth.ssh_bad_kex", "auth.ssh_refused"):
        return PROBE
    if t == _ACCEPTED:
        return SUCCESS
    return None


@dataclass(frozen=True)
class SshBruteforceParams:
    """`[detectors.ssh_bruteforce]`."""

    enabled: bool = True
    #: attempts from one IP within `window_seconds` that make it a brute force (fail2ban maxretry)
    max_failures: int = field(default=5, metadata=minimum(1))
    window_seconds: float = field(default=600.0, metadata=minimum(0))
    #: distinct invalid user names from one IP within `enum_window_seconds` (user enumeration)
    enum_users: int = field(default=5, metadata=minimum(2))
    enum_window_seconds: float = field(default=600.0, metadata=minimum(0))
    #: distinct IPs failing against one account within `distributed_window_seconds`
    distributed_ips: int = field(default=5, metadata=minimum(2))
    distributed_window_seconds: float = field(default=3600.0, metadata=minimum(0))
    #: attempts from an IP (within `window_seconds`) after which its successful login is Critical
    success_after_failures: int = field(default=5, metadata=minimum(1))
    #: "normal": guesses and failed connections; "aggressive": also probes (scans,
    #: banner grabs, bad key exchanges, timeouts), once per connection
    mode: str = "normal"
    #: the older name of `mode = "aggressive"` (true means aggressive)
    count_probes: bool = False
    #: a line stamped further than this from its host's clock does not move it
    max_clock_jump_seconds: float = field(default=60.0, metadata=minimum(0))
    #: IPs / accounts tracked at once; the least recently seen are forgotten first
    max_tracked: int = field(default=100_000, metadata=minimum(100))

    @classmethod
    def from_dict(cls, data: dict | None) -> "SshBruteforceParams":
        """Read and validate `[detectors.ssh_bruteforce]`; raises `ConfigError`."""
        params = read_params(cls, data, NAME)
        if params.mode not in MODES:
            raise ConfigError(f"detectors.{NAME}.mode",
                              f"must be one of {', '.join(MODES)}, not {params.mode!r}")
        return params

    @property
    def aggressive(self) -> bool:
        """Whether probes count as attempts."""
        return self.mode == "aggressive" or self.count_probes


class _Window:
    """Timestamps, distinct values (kept counted, so `distinct()` is O(1)) and a few
    evidence events of one key within a sliding window."""

    __slots__ = ("times", "values", "counts", "events")

    def __init__(self) -> None:
        self.times: deque[int] = deque()
        self.values: deque[str | None] = deque()
        self.counts: Counter[str] = Counter()
        self.events: deque[tuple[int, Event]] = deque(maxlen=_EVIDENCE)

    def add(self, at: int, value: str | None, event: Event, window_ns: int) -> None:
        self.times.append(at)
        self.values.append(value)
        if value is not None:
            self.counts[value] += 1
        self.events.append((at, event))
        while len(self.times) > _MAX_HISTORY:
            self._drop_oldest()
        self.prune(at, window_ns)

    def _drop_oldest(self) -> None:
        self.times.popleft()
        value = self.values.popleft()
        if value is not None:
            self.counts[value] -= 1
            if not self.counts[value]:
                del self.counts[value]

    def prune(self, now: int, window_ns: int) -> None:
        """Forget what is more than `window_ns` before `now` (an entry exactly at the
        edge still counts)."""
        while self.times and now - self.times[0] > window_ns:
            self._drop_oldest()
        while self.events and now - self.events[0][0] > window_ns:
            self.events.popleft()

    def count(self) -> int:
        return len(self.times)

    def distinct(self) -> int:
        return len(self.counts)

    def evidence(self) -> list[Event]:
        return [ev for _at, ev in self.events]


@dataclass
class _Connection:
    """One sshd connection: how many attempts it made, whether the last one is still
    waiting for its `Failed ...` line, and whether a probe was counted."""

    attempts: int = 0
    pending: bool = False
    probed: bool = False
    #: the user the connection named (a PAM line of an unknown account names none)
    user: str | None = None
    invalid: bool = False


class SshBruteforceDetector:
    """Count failed SSH logins per source IP, per account and per invalid user name.

    `params`: thresholds and windows (`SshBruteforceParams`, defaults as documented in
    the module). `on_event` takes `auth.*` events and returns a detection per attempt
    (several for a `message repeated N times` line) or one for a login after a burst.
    """

    name = NAME
    Params = SshBruteforceParams
    event_types = frozenset({"auth.ssh_failed", "auth.ssh_pam_failure", "auth.ssh_invalid_user",
                             "auth.ssh_user_not_allowed", "auth.ssh_too_many_failures",
                             "auth.ssh_preauth_disconnect", "auth.ssh_received_disconnect",
                             "auth.ssh_handshake_failed", "auth.ssh_protocol_error",
                             "auth.ssh_auth_timeout", "auth.ssh_bad_kex", "auth.ssh_refused",
                             "auth.ssh_connection_closed", "auth.ssh_disconnect", _ACCEPTED})

    def __init__(self, params: SshBruteforceParams | None = None) -> None:
        self.params = p = params or SshBruteforceParams()
        self._window_ns = int(p.window_seconds * 1e9)
        self._enum_ns = int(p.enum_window_seconds * 1e9)
        self._dist_ns = int(p.distributed_window_seconds * 1e9)
        keep_ns = max(self._window_ns, self._enum_ns)
        self.clocks = SourceClocks(int(p.max_clock_jump_seconds * 1e9), p.max_tracked)
        self._by_ip: ExpiringMap[str, _Window] = ExpiringMap(keep_ns, p.max_tracked)
        self._enum_by_ip: ExpiringMap[str, _Window] = ExpiringMap(self._enum_ns, p.max_tracked)
        self._by_user: ExpiringMap[str, _Window] = ExpiringMap(self._dist_ns, p.max_tracked)
        self._connections: ExpiringMap[tuple[Any, ...], _Connection] = ExpiringMap(
            _CONNECTION_NS, p.max_tracked)

    def on_event(self, event: Event) -> list[Detection]:
        """One auth event in; a detection per failed attempt, or for a login after a burst."""
        if event.source != "auth" or event.type not in self.event_types:
            return []
        ip = event.args.get("src_ip")
        if not isinstance(ip, str):
            return []
        place = self.clocks.place(event.hostname, event.ts)
        role = role_of(event)
        key = self._connection_key(event, ip)
        if role == SUCCESS:
            self._connections.pop(key)
            return self._on_success(event, ip, place)
        n, conn = self._new_attempts(event, role, key, place)
        if event.type in _ENDS:
            self._connections.pop(key)
        if n == 0:
            return []
        user = event.args.get("user") or conn.user
        invalid = bool(event.args.get("invalid_user")) or (
            "user" not in event.args and conn.invalid)
        return [self._on_attempt(event, ip, place, user, invalid, first=i == 0)
                for i in range(n)]

    # -- what counts as an attempt -----------------------------------------------------

    @staticmethod
    def _connection_key(event: Event, ip: str) -> tuple[Any, ...]:
        if event.proc.pid is not None:
            return (event.hostname, event.proc.pid)
        return (event.hostname, ip, event.args.get("src_port"))

    def _new_attempts(self, event: Event, role: str | None, key: tuple[Any, ...],
                      place: Placement) -> tuple[int, _Connection]:
        """How many new attempts `event` is in its connection, and the connection."""
        if role is None or (role == PROBE and not self.params.aggressive):
            return 0, _Connection()
        conn = self._connections.get(key, place.at) or _Connection()
        if event.args.get("user"):
            conn.user, conn.invalid = event.args["user"], bool(event.args.get("invalid_user"))
        if event.proc.pid is None and key[-1] is not None:
            # without pids (`sshd -e` in a container, `-E` files) connections are told
            # apart by port; `User x from <ip> not allowed` has none, but opened this one
            loose = self._connections.pop((*key[:-1], None))
            if loose is not None and loose.pending:
                conn.pending = True
                conn.attempts += loose.attempts
        repeat = event.args.get("repeat", 1)
        lines = min(repeat, _MAX_REPEAT) if isinstance(repeat, int) and repeat > 0 else 1
        new = 0
        if role == ANNOUNCE:
            new = lines
            conn.pending = True
        elif role == GUESS and event.type == "auth.ssh_failed":
            new = lines - conn.pending  # the first confirms a pending PAM/announce line
            conn.pending = False
        elif role == GUESS:  # a PAM failure: its `Failed ...` line follows
            new = lines - conn.pending
            conn.pending = True
        elif role == VERDICT:
            new = 1 if conn.attempts == 0 else 0
        elif role == PROBE:
            new = 1 if conn.attempts == 0 and not conn.probed else 0
            conn.probed = True
        conn.attempts += new
        self._connections.put(key, place.at, conn, now=place.clock)
        return new, conn

    # -- detections --------------------------------------------------------------------

    def _track(self, table: ExpiringMap[str, _Window], key: str, place: Placement,
               value: str | None, event: Event, window_ns: int) -> _Window:
        w = table.get(key, place.at) or _Window()
        w.add(place.at, value, event, window_ns)
        # other keys expire by the host's clock, never by this line's own stamp
        table.put(key, place.at, w, now=place.clock)
        return w

    def _on_attempt(self, event: Event, ip: str, place: Placement, user: str | None,
                    invalid: bool, first: bool) -> Detection:
        p = self.params
        by_ip = self._track(self._by_ip, ip, place, user, event, self._window_ns)
        enum = self._track(self._enum_by_ip, ip, place, user if invalid else None, event,
                           self._enum_ns)
        accounts = (self._track(self._by_user, user, place, ip, event, self._dist_ns)
                    if user else None)
        n_ip, n_enum = by_ip.count(), enum.distinct()
        n_dist = accounts.distinct() if accounts else 0
        flags = {"per_ip": n_ip >= p.max_failures, "user_enum": n_enum >= p.enum_users,
                 "distributed": n_dist >= p.distributed_ips}
        subkind = next((k for k, on in flags.items() if on), "attempt")
        who = f"invalid user {user}" if invalid else (f"user {user}" if user else "no user")
        if subkind == "per_ip":
            output = (f"SSH brute force from {ip}: {n_ip} failed attempts in "
                      f"{_secs(p.window_seconds)} (last: {who})")
        elif subkind == "user_enum":
            output = (f"SSH user enumeration from {ip}: {n_enum} invalid user names in "
                      f"{_secs(p.enum_window_seconds)} (last: {user})")
        elif subkind == "distributed":
            output = (f"Distributed SSH brute force on account {user}: {n_dist} source IPs in "
                      f"{_secs(p.distributed_window_seconds)} (this one: {ip})")
        else:
            output = f"SSH failed login from {ip} for {who}"
        # the detection that crosses a threshold carries the burst as evidence
        crossing = ((flags["per_ip"] and n_ip == p.max_failures)
                    or (flags["user_enum"] and n_enum == p.enum_users and invalid and first))
        evidence = by_ip.evidence() if crossing else [event]
        data: dict[str, Any] = {"title": TITLE, "unit": "attempts", "ip_attempts": n_ip,
                                "ip_invalid_users": n_enum, "account_ips": n_dist,
                                "window_seconds": p.window_seconds, "role": role_of(event),
                                **flags}
        if place.stamp != TRUSTED:
            data["stamp"] = place.stamp
        priority = Priority.NOTICE if subkind == "attempt" else Priority.WARNING
        return self._detection(event, subkind, priority, output, ip, user, evidence, data)

    def _on_success(self, event: Event, ip: str, place: Placement) -> list[Detection]:
        p = self.params
        by_ip = self._by_ip.get(ip, place.at)
        if by_ip is None:
            return []
        by_ip.prune(place.at, self._window_ns)
        n = by_ip.count()
        if n < p.success_after_failures:
            return []
        user = event.args.get("user")
        method = event.args.get("method", "?")
        output = (f"SSH login accepted for {user} from {ip} ({method}) after {n} failed "
                  f"attempts from that IP in {_secs(p.window_seconds)}")
        evidence = [*by_ip.evidence(), event]
        data = {"title": TITLE, "unit": "attempts", "ip_attempts": n,
                "window_seconds": p.window_seconds, "method": method}
        # the burst is now reported; a second session from the same IP is not a new finding
        self._by_ip.pop(ip)
        return [self._detection(event, "success_after_burst", Priority.CRITICAL, output, ip,
                                user, evidence, data)]

    def _detection(self, event: Event, subkind: str, priority: Priority, output: str, ip: str,
                   user: str | None, evidence: list[Event], data: dict[str, Any]) -> Detection:
        fields = {"auth.src_ip": ip, "auth.user": user, "auth.src_port": event.args.get("src_port"),
                  "evt.type": event.type, "proc.name": event.proc.name,
                  "proc.pid": event.proc.pid}
        return Detection(
            kind="detector", name=NAME, rule_id=f"{NAME}.{subkind}", priority=priority,
            output=output, ts=event.ts, tags=list(_TAGS[subkind]),
            entity=Entity(ip=ip, user=user, process=event.proc.name, pid=event.proc.pid),
            output_fields={k: v for k, v in fields.items() if v is not None},
            evidence=evidence, data=data, source=event.source, hostname=event.hostname)


def _secs(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
