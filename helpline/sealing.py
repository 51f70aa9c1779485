"""Secrets of a conversation: its token, its resume code, and its envelope-encrypted messages.

- token: 32 random bytes (hex) held only by the person's page; stored as a keyed hash
  (core.crypto.blind_index under a key outside the database), so a database copy cannot be
  used to open a conversation and the hash cannot be reversed by enumeration;
- resume code: five words from a 256-word list (40 bits), shown once, stored as a keyed hash
  with an expiry; guessing is throttled (helpline.throttle) and a wrong code is a 404;
- data key: a fresh 32-byte key per conversation, wrapped by the field key (the envelope scheme
  of segments.envelope); every message and note is sealed with it (AES-256-GCM, the field bound
  as associated data). Purging a conversation empties the wrapped key: crypto-shredding.

The envelope primitives are core.envelope's; DESTROYED is what a shredded key reads.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict

from core.crypto import DecryptionError, blind_index
from core.envelope import (
    DESTROYED,
    data_key_create,
    data_key_unwrap,
    data_key_wrap,
    seal,
    unseal,
)

TOKEN_BYTES = 32
TOKEN_PURPOSE = "helpline.conversation-token"  # noqa: S105 - a label
RESUME_PURPOSE = "helpline.resume-code"
RESUME_WORDS = 5

__all__ = ["DESTROYED", "DecryptionError", "conversation_token", "data_key_new",
           "data_key_open_cached", "open_body", "opened_keys_forget", "resume_code",
           "resume_hash", "seal_body", "token_hash", "token_looks_valid"]

WORDS = (
    "acorn", "amber", "anchor", "apple", "april", "arch", "arrow", "aspen", "atlas", "autumn",
    "badge", "bakery", "bamboo", "banjo", "barley", "basil", "beacon", "beach", "bell", "berry",
    "birch", "biscuit", "blossom", "boat", "bonfire", "bottle", "breeze", "brick", "bridge",
    "brook", "brush", "bucket", "butter", "button", "cabin", "cactus", "cake", "camel", "candle",
    "canoe", "canvas", "carpet", "carrot", "castle", "cedar", "cello", "chalk", "cherry", "chess",
    "chimney", "cider", "circle", "clay", "cliff", "clock", "cloud", "clover", "coast", "cobalt",
    "cocoa", "comet", "copper", "coral", "cotton", "crane", "crayon", "cricket", "crystal", "cup",
    "daisy", "dawn", "delta", "desk", "dew", "diamond", "dolphin", "door", "dove", "dragon",
    "drum", "dune", "eagle", "echo", "ember", "engine", "fabric", "falcon", "feather", "fern",
    "fiddle", "field", "fig", "flame", "flint", "flute", "forest", "fountain", "fox", "garden",
    "garnet", "ginger", "glacier", "globe", "grape", "gravel", "harbor", "harp", "hazel", "heron",
    "hill", "honey", "horizon", "iris", "island", "ivory", "jacket", "jade", "jasmine", "jelly",
    "jigsaw", "kayak", "kettle", "kite", "koala", "ladder", "lagoon", "lake", "lamp", "lantern",
    "lava", "lemon", "lily", "linen", "lotus", "lunar", "magnet", "mango", "maple", "marble",
    "meadow", "melon", "mint", "mirror", "moss", "mountain", "mug", "needle", "nest", "nutmeg",
    "oak", "oasis", "ocean", "olive", "onion", "opal", "orange", "orbit", "otter", "owl",
    "paddle", "palm", "panda", "paper", "parrot", "pasta", "peach", "pearl", "pebble", "pencil",
    "pepper", "piano", "pillow", "pine", "planet", "plum", "pocket", "pond", "poppy", "puzzle",
    "quartz", "quill", "rabbit", "radish", "rain", "raven", "reef", "ribbon", "river", "robin",
    "rocket", "rose", "ruby", "saddle", "saffron", "sail", "salt", "sand", "satin", "scarf",
    "shell", "silver", "sky", "sled", "snow", "sofa", "sparrow", "spice", "spoon", "spring",
    "spruce", "star", "stone", "storm", "sugar", "summit", "sun", "swan", "table", "teapot",
    "thistle", "thunder", "tiger", "timber", "toast", "topaz", "tower", "tulip", "tunnel",
    "turtle", "umbrella", "valley", "velvet", "violet", "walnut", "water", "wave", "willow",
    "window", "winter", "wolf", "wren", "yarn", "yellow", "zebra", "zinc", "acre", "alpine",
    "badger", "bluebell", "cabbage", "daffodil", "eclipse", "elm", "galaxy", "hammock", "igloo",
)
assert len(set(WORDS)) == 256, len(set(WORDS))


def conversation_token() -> str:
    return secrets.token_hex(TOKEN_BYTES)


def token_looks_valid(token: str) -> bool:
    return len(token) == 2 * TOKEN_BYTES and all(c in "0123456789abcdef" for c in token)


def token_hash(token: str) -> str:
    return blind_index(token, purpose=TOKEN_PURPOSE)


def resume_code() -> str:
    return " ".join(secrets.choice(WORDS) for _ in range(RESUME_WORDS))


def resume_hash(code: str) -> str:
    # Normalised: case, extra spaces and hyphens do not matter to a person typing it back.
    words = code.replace("-", " ").lower().split()
    return blind_index(" ".join(words), purpose=RESUME_PURPOSE)


def _key_context(organisation_id: int) -> str:
    return f"helpline.Conversation.data_key:{organisation_id}"


def data_key_new(*, organisation_id: int) -> tuple[bytes, str]:
    """A fresh data key and its wrapped form (what the database keeps)."""
    key = data_key_create()
    return key, data_key_wrap(key, context=_key_context(organisation_id))


def data_key_open(wrapped: str, *, organisation_id: int) -> bytes:
    """The data key; DecryptionError (DataKeyDestroyed) once it was shredded."""
    return data_key_unwrap(wrapped, context=_key_context(organisation_id))


# Unwrapped data keys of conversations in use, per process: the socket relay would otherwise
# unwrap the same key for every message. Keyed by the wrapped value, so a shredded (DESTROYED)
# or rewrapped key is never served from here; bounded, and forgotten after a few minutes.
OPENED_KEYS_MAX = 4096
OPENED_KEY_SECONDS = 300.0
_opened: OrderedDict[tuple[str, int], tuple[float, bytes]] = OrderedDict()
_opened_lock = threading.Lock()


def data_key_open_cached(wrapped: str, *, organisation_id: int) -> bytes:
    """data_key_open, remembering the answer for OPENED_KEY_SECONDS (never a failure)."""
    if wrapped == DESTROYED or not wrapped:
        return data_key_open(wrapped, organisation_id=organisation_id)
    now = time.monotonic()
    name = (wrapped, organisation_id)
    with _opened_lock:
        entry = _opened.get(name)
        if entry is not None and entry[0] > now:
            _opened.move_to_end(name)
            return entry[1]
    key = data_key_open(wrapped, organisation_id=organisation_id)
    with _opened_lock:
        _opened[name] = (now + OPENED_KEY_SECONDS, key)
        _opened.move_to_end(name)
        while len(_opened) > OPENED_KEYS_MAX:
            _opened.popitem(last=False)
    return key


def opened_keys_forget() -> None:
    """Drop every remembered data key (tests). A purge needs no call: the batch reads and
    writes take the wrapped value from the row, and a purged row holds DESTROYED."""
    with _opened_lock:
        _opened.clear()


def seal_body(text: str, *, key: bytes, field: str) -> str:
    return seal(text, data_key=key, context=f"helpline.{field}")


def open_body(sealed: str, *, key: bytes, field: str) -> str:
    return unseal(sealed, data_key=key, context=f"helpline.{field}")


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
