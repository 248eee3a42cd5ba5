"""A live class: learners' pages follow the lecturer's view, and the lecturer asks predict-then-reveal polls.

Framework-free: both hubs and the JSON API call the same store. A class is a short code (`K7Q2`) and a secret
lecturer token; only the token's holder changes the view, asks, reveals or ends the class. Learners are
anonymous: a browser sends a random member id (to be counted once and to vote once per question), and nothing
any caller can read names who voted for what.

Where the state lives: in this process (`ClassStore`), or, with GLASSBOX_BACKEND=ray, in one named Ray actor that
every front end of the cluster reaches (`store()`), so a class works whichever front end a learner lands on.
Reading a class's state is a dictionary lookup under a lock: it never touches the compute lane, so learners'
pages polling every second never wait behind model work.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from core import memwatch
from core.errors import UserError

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read off a projector
CODE_LENGTH = 4
MAX_CLASSES = int(os.environ.get("GLASSBOX_MAX_CLASSES", "200"))
MAX_MEMBERS = int(os.environ.get("GLASSBOX_MAX_FOLLOWERS", "500"))  # learners per class
IDLE_S = float(os.environ.get("GLASSBOX_CLASS_IDLE_H", "4")) * 3600  # no word from the lecturer for this long: ended
PRESENT_S = 10.0  # a learner whose page has not asked for 10 s has left (pages ask every second)
POLL_SECONDS = 1.0  # how often a page asks (both hubs); a view reaches learners within ~2 of these
MIN_OPTIONS, MAX_OPTIONS = 2, 6  # options a lecturer types
MAX_PAGE_OPTIONS = 10  # a page's own question may offer more: Grad-CAM's 3x3 grid, diffusion's ten digits
MAX_QUESTION, MAX_OPTION = 200, 60  # characters
MAX_VIEW = 2000  # characters of a view's path and query
KEPT_POLLS = 20  # a class keeps its last 20 questions and their results
MEMBER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
CLASS_KEY = "class"  # the query key of a join link: /?class=K7Q2
DROPPED_KEYS = ("lecture", CLASS_KEY)  # each learner keeps their own lecture mode; the class code is not a setting


class ClassError(UserError):
    """A class request that cannot be carried out; the message says why and what would work."""


def view_of(link: str) -> str:
    """The view a class shares, from a page's address or share link: path and query, without the host, the
    lecture flag (each screen keeps its own) or the class code. "/gradcam?image=cat&lecture=1" -> "/gradcam?image=cat".
    """
    link = str(link or "").strip()
    if len(link) > MAX_VIEW:
        raise ClassError(f"A view's link has at most {MAX_VIEW} characters.")
    parts = urlsplit(link)
    path = parts.path or "/"
    if not path.startswith("/") or "//" in path or ".." in path:
        raise ClassError(f"{link[:60]!r} is not a page of this hub: give its path and query, e.g. /gradcam?image=cat.")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in DROPPED_KEYS]
    return path + ("?" + urlencode(query) if query else "")


def slug_of(view: str) -> str:
    """The page a view is on: "/gradcam?image=cat" -> "gradcam" ("" for the landing page)."""
    return urlsplit(view).path.strip("/").split("/")[-1]


@dataclass
class Poll:
    """One question. `answer` is the index of the model's (or the lecturer's) answer; it stays on the server until
    the reveal. `voters` are hashes of member ids: enough to refuse a second vote, never shown."""

    id: int
    question: str
    options: list[str]
    view: str
    source: str  # "lecturer" (options typed on the spot) or "page" (the page's own question)
    answer: int | None = None
    explain: str = ""  # the model's answer in words, shown at the reveal
    counts: list[int] = field(default_factory=list)
    voters: set[str] = field(default_factory=set)
    revealed: bool = False

    def public(self, show_answer: bool = False) -> dict:
        """What every screen sees: the question, the options and the number of votes; after the reveal, the
        histogram and the answer too (the lecturer's screen sees the histogram as it fills)."""
        out = {"id": self.id, "question": self.question, "options": list(self.options), "view": self.view,
               "source": self.source, "votes": sum(self.counts), "revealed": self.revealed}
        if self.revealed or show_answer:
            out["counts"] = list(self.counts)
        if self.revealed:
            out["answer"] = self.answer
            out["answer_text"] = None if self.answer is None else self.options[self.answer]
            out["explain"] = self.explain
        return out


@dataclass
class Room:
    code: str
    token_hash: str
    view: str
    touched: float  # the lecturer's last sign of life (any request with the token)
    version: int = 1  # goes up when the view or the question changes: a caller can tell a change at a glance
    members: dict[str, tuple[float, bool]] = field(default_factory=dict)  # member hash -> (last seen, following)
    poll: Poll | None = None
    past: list[Poll] = field(default_factory=list)
    polls_asked: int = 0


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


ANSWER_IS = "The answer is an option's number, 0 to {last}."
VOTE_IS = "Choose an option by its number, 0 to {last}."


def _index(value: Any, n: int, sentence: str) -> int:
    """An option's index from 0 to n - 1 (a whole number, not a bool), or a ClassError with `sentence`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
        raise ClassError(sentence.format(last=n - 1))
    return value


def _retire(room: Room) -> None:
    """The current question goes to the record (the last KEPT_POLLS are kept)."""
    if room.poll is not None:
        room.past = (room.past + [room.poll])[-KEPT_POLLS:]
        room.poll = None


def _clean(text: Any, most: int, what: str) -> str:
    text = " ".join(str(text if text is not None else "").split())
    if not text:
        raise ClassError(f"The {what} is empty: type one.")
    if len(text) > most:
        raise ClassError(f"The {what} has {len(text)} characters; at most {most}.")
    return text


class ClassStore:
    """Every open class of this server (or of the cluster, inside the Ray actor). All methods take and return
    plain data, so the same calls go to the actor unchanged."""

    def __init__(self, max_classes: int = MAX_CLASSES, max_members: int = MAX_MEMBERS, idle_s: float = IDLE_S):
        self.max_classes, self.max_members, self.idle_s = max_classes, max_members, idle_s
        self.rooms: dict[str, Room] = {}
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ helpers (under the lock)

    def _expire(self, now: float) -> None:
        for code in [c for c, r in self.rooms.items() if now - r.touched > self.idle_s]:
            del self.rooms[code]

    def _room(self, code: Any) -> Room:
        code = str(code or "").strip().upper()
        room = self.rooms.get(code)
        if room is None:
            raise ClassError(f"There is no open class {code[:8]!r} here: check the code on the lecturer's screen "
                             "(4 letters and digits). A class ends when its lecturer ends it or after "
                             f"{self.idle_s / 3600:g} hours without the lecturer.")
        return room

    def _lecturer(self, code: Any, token: Any) -> Room:
        room = self._room(code)
        if not token or not hmac.compare_digest(_hash(str(token)), room.token_hash):
            raise ClassError(f"Only the lecturer of class {room.code} can do that: this request does not carry the "
                             "lecturer's token (it stays in the browser that started the class).")
        room.touched = time.time()
        return room

    def _state(self, room: Room, now: float, lecturer: bool) -> dict:
        present = following = 0  # one pass: every learner's poll runs this, over up to MAX_MEMBERS learners
        for seen, follows in room.members.values():
            if now - seen <= PRESENT_S:
                present += 1
                following += follows
        return {"code": room.code, "view": room.view, "version": room.version, "following": following,
                "learners": present, "poll": room.poll.public(show_answer=lecturer) if room.poll else None,
                "lecturer": lecturer, "poll_every_s": POLL_SECONDS}

    # ------------------------------------------------------------------ the lecturer

    def open(self, view: str) -> dict:
        """A new class on `view`: its state, plus the code and the secret token (returned this once)."""
        view = view_of(view)
        now = time.time()
        with self.lock:
            self._expire(now)
            if len(self.rooms) >= self.max_classes:
                raise ClassError(f"This server already has {self.max_classes} open classes, the most it keeps. A class "
                                 f"ends when its lecturer ends it or after {self.idle_s / 3600:g} idle hours; "
                                 "try again later.")
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            while code in self.rooms:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            token = secrets.token_urlsafe(24)
            room = Room(code, _hash(token), view, now)
            self.rooms[code] = room
            return {**self._state(room, now, True), "token": token}

    def set_view(self, code: str, token: str, view: str) -> dict:
        view = view_of(view)
        now = time.time()
        with self.lock:
            room = self._lecturer(code, token)
            if view != room.view:
                room.view, room.version = view, room.version + 1
            return self._state(room, now, True)

    def ask(self, code: str, token: str, question: str, options: list, answer: int | None = None,
            explain: str = "", source: str = "lecturer") -> dict:
        """A new question on the class's current view (the previous one, answered or not, goes to the record)."""
        question = _clean(question, MAX_QUESTION, "question")
        if isinstance(options, str):
            options = re.split(r"[\n;]", options)
        options = [o for o in (" ".join(str(x).split()) for x in (options or [])) if o]
        most = MAX_PAGE_OPTIONS if source == "page" else MAX_OPTIONS
        if not MIN_OPTIONS <= len(options) <= most:
            raise ClassError(f"A question has {MIN_OPTIONS} to {most} options (one per line); "
                             f"this one has {len(options)}.")
        options = [_clean(o, MAX_OPTION, "option") for o in options]
        if len(set(options)) != len(options):
            raise ClassError("Two options are the same: make each one different.")
        if source not in ("lecturer", "page"):
            raise ClassError("A question's source is 'lecturer' or 'page'.")
        if answer is not None:
            _index(answer, len(options), ANSWER_IS)
        now = time.time()
        with self.lock:
            room = self._lecturer(code, token)
            _retire(room)
            room.polls_asked += 1
            room.poll = Poll(room.polls_asked, question, options, room.view, source, answer, str(explain)[:500],
                             [0] * len(options))
            room.version += 1
            return self._state(room, now, True)

    def reveal(self, code: str, token: str, answer: int | None = None) -> dict:
        """Show the histogram and the answer on every screen; `answer` (an option's index) sets or replaces the
        answer of a question the lecturer typed. Votes stop here."""
        now = time.time()
        with self.lock:
            room = self._lecturer(code, token)
            if room.poll is None:
                raise ClassError("There is no question to reveal: ask one first.")
            if answer is not None:
                room.poll.answer = _index(answer, len(room.poll.options), ANSWER_IS)
            if not room.poll.revealed:
                room.poll.revealed = True
                room.version += 1
            return self._state(room, now, True)

    def end_poll(self, code: str, token: str) -> dict:
        """Take the question off the screens (it stays in the record)."""
        now = time.time()
        with self.lock:
            room = self._lecturer(code, token)
            if room.poll is not None:
                _retire(room)
                room.version += 1
            return self._state(room, now, True)

    def close(self, code: str, token: str) -> dict:
        with self.lock:
            room = self._lecturer(code, token)
            del self.rooms[room.code]
            return {"code": room.code, "closed": True}

    # ------------------------------------------------------------------ everyone

    def state(self, code: str, member: str | None = None, following: bool = True, token: str | None = None) -> dict:
        """The class as a page shows it. A learner's page sends its member id (and whether it follows), which
        counts it as present; the lecturer's page sends the token, which keeps the class alive."""
        now = time.time()
        with self.lock:
            self._expire(now)
            room = self._lecturer(code, token) if token else self._room(code)
            if member is not None and not token:
                key = self._member(room, member, now)
                room.members[key] = (now, bool(following))
            return self._state(room, now, bool(token))

    def _member(self, room: Room, member: Any, now: float) -> str:
        if not MEMBER_ID.match(str(member or "")):
            raise ClassError("A member id is 8 to 64 letters, digits, '-' or '_' (the page makes one per browser).")
        key = _hash(f"{room.code}:{member}")
        if key not in room.members:
            gone = [k for k, (seen, _) in room.members.items() if now - seen > PRESENT_S]
            for k in gone:
                del room.members[k]
            if len(room.members) >= self.max_members:
                raise ClassError(f"Class {room.code} is full: it has {self.max_members} learners, the most a class "
                                 "takes. You can still open the same view by its link.")
        return key

    def vote(self, code: str, member: str, option: int, poll: int | None = None) -> dict:
        """One vote for option `option` (its index) from this browser, once per question, before the reveal."""
        now = time.time()
        with self.lock:
            room = self._room(code)
            key = self._member(room, member, now)
            p = room.poll
            if p is None or (poll is not None and poll != p.id):
                raise ClassError("That question is closed: the lecturer has asked another one or none.")
            if p.revealed:
                raise ClassError("Voting on this question has ended: the answer is revealed.")
            _index(option, len(p.options), VOTE_IS)
            if key in p.voters:
                raise ClassError("This browser has already voted on this question: one vote each.")
            p.voters.add(key)
            p.counts[option] += 1
            room.members[key] = (now, room.members.get(key, (now, True))[1])
            return {**self._state(room, now, False), "voted": option}

    def results(self, code: str, token: str | None = None) -> dict:
        """The current question and the earlier ones, as anonymous counts (answers only once revealed, unless the
        lecturer asks)."""
        with self.lock:
            room = self._lecturer(code, token) if token else self._room(code)
            show = bool(token)
            return {"code": room.code, "view": room.view,
                    "poll": room.poll.public(show) if room.poll else None,
                    "past": [p.public(show) for p in room.past]}

    def count(self) -> int:
        with self.lock:
            self._expire(time.time())
            return len(self.rooms)

    def sizes(self) -> dict:
        """For memwatch's snapshots: open classes, learners held, questions kept."""
        with self.lock:
            rooms = list(self.rooms.values())
        return {"classes": f"{len(rooms)}/{self.max_classes}", "members": sum(len(r.members) for r in rooms),
                "polls": sum(len(r.past) + (r.poll is not None) for r in rooms)}


# ---------------------------------------------------------------------- where the classes live

ACTOR = "glassbox-classes"
NAMESPACE = "glassbox"
_local_store: ClassStore | None = None
_remote_store = None
_store_lock = threading.Lock()


class _ActorStore:
    """The ClassStore of the Ray cluster (one named, detached actor): the same methods, called through Ray. A
    ClassError raised in the actor comes back as itself, with its message."""

    def __init__(self, actor) -> None:
        self.actor = actor

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            import ray

            from core import remote

            try:
                return remote._blocking(lambda: ray.get(getattr(self.actor, name).remote(*args, **kwargs),
                                                        timeout=remote.timeout_s()))
            except Exception as exc:  # the store's own error, or a clear one
                cause = remote._unwrap(exc)
                if isinstance(cause, ClassError):
                    raise ClassError(str(cause)) from None
                raise ClassError(f"The class store of the cluster cannot be reached ({type(exc).__name__}); "
                                 "please try again in a moment.") from exc
        return call


def store():
    """The class store this front end uses: its own (local backend), or the cluster's actor (ray backend)."""
    global _local_store, _remote_store
    from core import remote

    with _store_lock:
        if remote.backend() != "ray":
            if _local_store is None:
                _local_store = ClassStore()
                memwatch.register("classes", _local_store.sizes)
            return _local_store
        import ray

        if _remote_store is None or not ray.is_initialized():  # (again, after remote.disconnect())
            remote.connect_cluster()
            # get_if_exists: the first front end makes the actor, the others find it. Detached: it outlives the
            # front end that made it. num_cpus=0: it holds dictionaries, and must not take a replica's core.
            actor = ray.remote(ClassStore).options(name=ACTOR, namespace=NAMESPACE, lifetime="detached",
                                                   get_if_exists=True, num_cpus=0, max_concurrency=1).remote()
            _remote_store = _ActorStore(actor)
        return _remote_store

