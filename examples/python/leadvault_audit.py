#!/usr/bin/env python3
"""An independent verifier of leadvault audit exports, written from audit/FORMAT.md.

Decodes canonical audit entries, computes RFC 6962 leaf and node hashes,
verifies inclusion and consistency proofs, opens C2SP signed notes
(checkpoints and export manifests) with an Ed25519 verifier key, and verifies
a whole JSON Lines export the way `leadvaultctl audit verify` does.

    python3 leadvault_audit.py verify EXPORT.jsonl --pubkey KEY [--trusted CHECKPOINT]
    python3 leadvault_audit.py vectors audit/testdata/vectors.json

Exit codes: 0 verified; 1 verification failed (the message names the first bad
sequence or line and what is wrong); 2 usage (a bad key, an unreadable file).
Messages never quote an entry's field values.

Needs only the Python 3 standard library and python3-cryptography (Ed25519).
"""

import argparse
import base64
import binascii
import hashlib
import json
import os
import stat
import sys
import tempfile

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
except ImportError:  # pragma: no cover - reported at use
    Ed25519PublicKey = None

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class VerifyError(Exception):
    """A verification failure; its message says where and what."""


def _with_prefix(prefix, error):
    return VerifyError(prefix + str(error))


# ---------------------------------------------------------------------------
# Canonical entry encoding (FORMAT.md, "Canonical entry encoding").

CANONICAL_VERSION = 1
OUTCOMES = {1: "allowed", 2: "denied", 3: "failed", 4: "unauthenticated"}
OUTCOME_VALUES = {name: value for value, name in OUTCOMES.items()}
STRING_FIELDS = ("principal_id", "role", "action")
LIST_FIELDS = ("lead_ids", "fields", "blind_tokens")
TAIL_FIELDS = ("purpose", "request_id", "peer", "break_glass_reason", "subject")
U64 = 1 << 64


class Entry:
    """One audit entry; strings are bytes (the format does not require UTF-8)."""

    __slots__ = (
        ("sequence", "time_micros", "outcome", "code")
        + STRING_FIELDS
        + LIST_FIELDS
        + TAIL_FIELDS
    )

    def __init__(self, **kw):
        self.sequence = 0
        self.time_micros = 0
        self.outcome = 1
        self.code = 0
        for name in STRING_FIELDS + TAIL_FIELDS:
            setattr(self, name, b"")
        for name in LIST_FIELDS:
            setattr(self, name, [])
        for key, value in kw.items():
            setattr(self, key, value)

    def __eq__(self, other):
        return all(getattr(self, s) == getattr(other, s) for s in self.__slots__)


class _Reader:
    def __init__(self, data, pos):
        self.data = data
        self.pos = pos

    def fail(self):
        raise VerifyError("audit entry: malformed canonical encoding")

    def varint(self):
        value = 0
        for shift in range(0, 64, 7):
            if self.pos >= len(self.data):
                self.fail()
            b = self.data[self.pos]
            self.pos += 1
            if shift == 63 and b > 1:
                self.fail()
            value |= (b & 0x7F) << shift
            if b & 0x80 == 0:
                if b == 0 and shift > 0:
                    self.fail()  # not the shortest encoding
                return value
        self.fail()

    def bytes(self):
        n = self.varint()
        if n > len(self.data) - self.pos:
            self.fail()
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def list(self):
        n = self.varint()
        if n > len(self.data) - self.pos:
            self.fail()
        return [self.bytes() for _ in range(n)]


def _put_varint(out, v):
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _put_bytes(out, s):
    _put_varint(out, len(s))
    out += s


def encode_canonical(e):
    """The canonical bytes of `e` (format version 1)."""
    out = bytearray([CANONICAL_VERSION])
    _put_varint(out, e.sequence)
    _put_varint(out, ((e.time_micros << 1) ^ (e.time_micros >> 63)) % U64)  # zig-zag
    for name in STRING_FIELDS:
        _put_bytes(out, getattr(e, name))
    _put_varint(out, e.outcome)
    _put_varint(out, e.code % U64)  # an int32, sign-extended to 64 bits
    for name in LIST_FIELDS:
        items = getattr(e, name)
        _put_varint(out, len(items))
        for item in items:
            _put_bytes(out, item)
    for name in TAIL_FIELDS:
        _put_bytes(out, getattr(e, name))
    return bytes(out)


def decode_canonical(data):
    """Decodes canonical bytes; VerifyError if malformed or followed by trailing bytes."""
    if not data or data[0] != CANONICAL_VERSION:
        raise VerifyError("audit entry: unknown canonical version")
    r = _Reader(data, 1)
    e = Entry()
    e.sequence = r.varint()
    z = r.varint()
    e.time_micros = (z >> 1) ^ -(z & 1)
    for name in STRING_FIELDS:
        setattr(e, name, r.bytes())
    outcome = r.varint()
    code = r.varint()
    for name in LIST_FIELDS:
        setattr(e, name, r.list())
    for name in TAIL_FIELDS:
        setattr(e, name, r.bytes())
    if r.pos != len(data) or outcome not in OUTCOMES:
        r.fail()
    if code < 1 << 31:
        e.code = code
    elif code >= U64 - (1 << 31):
        e.code = code - U64
    else:
        r.fail()  # not an int32 sign-extended to 64 bits
    e.outcome = outcome
    return e


# ---------------------------------------------------------------------------
# Merkle tree (RFC 6962 / RFC 9162).


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def leaf_hash(entry_bytes):
    return sha256(b"\x00", entry_bytes)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


EMPTY_TREE_HASH = sha256()


def range_nodes(begin, end):
    """The fewest complete nodes (level, index) covering leaves [begin, end)."""
    ids = []
    while begin < end:
        fits = (end - begin).bit_length() - 1
        aligned = 63 if begin == 0 else (begin & -begin).bit_length() - 1
        level = min(fits, aligned)
        ids.append((level, begin >> level))
        begin += 1 << level
    return ids


class Frontier:
    """The compact range of leaves [0, size): enough to append and take the root."""

    def __init__(self, size=0, nodes=None):
        nodes = list(nodes or [])
        if len(nodes) != bin(size).count("1"):
            raise VerifyError(
                "frontier of size %d has %d nodes, got %d"
                % (size, bin(size).count("1"), len(nodes))
            )
        self.size = size
        self.nodes = nodes

    def append(self, leaf):
        index = self.size
        h = leaf
        while index & 1:
            h = node_hash(self.nodes.pop(), h)
            index >>= 1
        self.nodes.append(h)
        self.size += 1

    def append_node(self, level, index, h):
        if level >= 64 or (index << level) != self.size:
            raise VerifyError(
                "node (%d, %d) does not start at leaf %d" % (level, index, self.size)
            )
        width = 1 << level
        if self.size + width >= U64:
            raise VerifyError("node extends the tree beyond 2^64 - 1 leaves")
        while index & 1:
            h = node_hash(self.nodes.pop(), h)
            index >>= 1
        self.nodes.append(h)
        self.size += width

    def root(self):
        if not self.nodes:
            return EMPTY_TREE_HASH
        h = self.nodes[-1]
        for n in reversed(self.nodes[:-1]):
            h = node_hash(n, h)
        return h


def _path_length(level, index, size):
    last = (size - 1) >> level
    inner = (index ^ last).bit_length()
    return inner + bin(index >> inner).count("1")


def _wrong_length(got, want):
    return VerifyError("proof has the wrong length (%d hashes, want %d)" % (got, want))


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2; VerifyError naming what failed."""
    if index >= size:
        raise VerifyError("index beyond tree size")
    want = _path_length(0, index, size)
    if len(proof) != want:
        raise _wrong_length(len(proof), want)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise _wrong_length(len(proof), want)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _wrong_length(len(proof), want)
    if r != root:
        raise VerifyError("root mismatch")


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 2.1.4.2; VerifyError naming what failed."""
    if size1 > size2:
        raise VerifyError("size1 exceeds size2")
    if size1 == 0 and root1 != EMPTY_TREE_HASH:
        raise VerifyError("root1 is not the empty tree's root")
    if size1 == size2:
        if proof:
            raise _wrong_length(len(proof), 0)
        if root1 != root2:
            raise VerifyError("root mismatch")
        return
    if size1 == 0:
        if proof:
            raise _wrong_length(len(proof), 0)
        return
    level = (size1 & -size1).bit_length() - 1
    whole_old_tree = size1 & (size1 - 1) == 0
    want = (0 if whole_old_tree else 1) + _path_length(level, (size1 >> level) - 1, size2)
    if len(proof) != want:
        raise _wrong_length(len(proof), want)
    rest = list(proof)
    seed = root1 if whole_old_tree else rest.pop(0)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = seed
    for c in rest:
        if sn == 0:
            raise _wrong_length(len(proof), want)
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _wrong_length(len(proof), want)
    if fr != root1:
        raise VerifyError("root1 mismatch")
    if sr != root2:
        raise VerifyError("root2 mismatch")


# ---------------------------------------------------------------------------
# Signed notes, checkpoints and export manifests (C2SP signed-note).

SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100
ALG_ED25519 = 0x01
UNICODE_SPACE = set(range(0x09, 0x0E)) | {0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029}
UNICODE_SPACE |= set(range(0x2000, 0x200B)) | {0x202F, 0x205F, 0x3000}


def b64_canonical(text):
    """Standard padded base64 in its one canonical spelling, or None."""
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw) == text else None


def _decode_utf8(data):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def valid_key_name(name):
    """Non-empty, no control character, no Unicode space, no '+' (name is a str)."""
    if not name:
        return False
    for ch in name:
        c = ord(ch)
        if c < 0x20 or c == 0x7F or ch == "+" or c in UNICODE_SPACE:
            return False
    return True


def _clean_text(text, allow_newline):
    return all(ord(ch) >= 0x20 or (allow_newline and ch == "\n") for ch in text)


def key_id(name, public_key):
    return int.from_bytes(sha256(name.encode("utf-8"), b"\n\x01", public_key)[:4], "big")


class NoteVerifier:
    """An Ed25519 note verifier key "<name>+<8 hex key id>+<base64(0x01 || key)>"."""

    def __init__(self, text):
        if Ed25519PublicKey is None:
            raise VerifyError("python3-cryptography is needed for Ed25519")
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise VerifyError("malformed verifier key: expected <name>+<key id>+<key>")
        name, id_hex, key_b64 = parts
        if not valid_key_name(name):
            raise VerifyError(
                "malformed verifier key: name must be non-empty UTF-8 without spaces, "
                "'+' or control characters"
            )
        if len(id_hex) != 8 or any(c not in "0123456789abcdef" for c in id_hex):
            raise VerifyError("malformed verifier key: key id must be 8 lowercase hex digits")
        encoded = b64_canonical(key_b64)
        if not encoded:
            raise VerifyError("malformed verifier key: key is not canonical base64")
        if encoded[0] != ALG_ED25519:
            raise VerifyError(
                "malformed verifier key: unknown key algorithm (only Ed25519, 0x01, is supported)"
            )
        if len(encoded) != 33:
            raise VerifyError("malformed verifier key: Ed25519 public key must be 32 bytes")
        self.public_key = encoded[1:]
        self.key_id = int(id_hex, 16)
        if key_id(name, self.public_key) != self.key_id:
            raise VerifyError("malformed verifier key: key id does not match the name and key")
        self.name = name
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)

    def label(self):
        return "%s+%08x" % (self.name, self.key_id)

    def open(self, note):
        """The note's text (bytes) if it carries a valid signature by this key."""
        text_str = _decode_utf8(note)
        if text_str is None or not _clean_text(text_str, allow_newline=True):
            raise VerifyError(
                "malformed signed note: not UTF-8, or has a control character other than newline"
            )
        split = note.rfind(b"\n\n")
        if split < 0:
            raise VerifyError("malformed signed note: no blank line before the signatures")
        text = note[: split + 1]
        signatures = note[split + 2 :]
        if not signatures or not signatures.endswith(b"\n"):
            raise VerifyError(
                "malformed signed note: signature lines missing or not ended by a newline"
            )
        ours = []
        for count, line in enumerate(signatures[:-1].split(b"\n"), start=1):
            if count > MAX_SIGNATURES:
                raise VerifyError("malformed signed note: more than 100 signatures")
            prefix = SIGNATURE_PREFIX.encode("utf-8")
            if not line.startswith(prefix):
                raise VerifyError(
                    "malformed signed note: signature line does not start with an em dash "
                    "and a space"
                )
            line = line[len(prefix) :]
            space = line.find(b" ")
            if space < 0:
                raise VerifyError("malformed signed note: signature line has no signature")
            name = line[:space].decode("utf-8")
            if not valid_key_name(name):
                raise VerifyError("malformed signed note: signature line has an invalid key name")
            raw = b64_canonical(line[space + 1 :])
            if raw is None or len(raw) <= 4:
                raise VerifyError(
                    "malformed signed note: signature is not canonical base64 of a key id "
                    "and signature"
                )
            if name != self.name or int.from_bytes(raw[:4], "big") != self.key_id:
                continue  # another key's signature
            if raw[4:] not in ours:
                ours.append(raw[4:])
        if not ours:
            raise VerifyError("signed note: no signature by key " + self.label())
        for signature in ours:
            try:
                if len(signature) != 64:
                    raise InvalidSignature()
                self._key.verify(signature, text)
            except InvalidSignature:
                raise VerifyError("signed note: invalid signature by key " + self.label())
        return text


def parse_canonical_uint64(s):
    """A decimal as signed notes spell sizes, or None."""
    if not s or len(s) > 20 or (s[:1] == b"0" and len(s) > 1):
        return None
    if any(c < 0x30 or c > 0x39 for c in s):
        return None
    v = int(s)
    return v if v < U64 else None


class Checkpoint:
    def __init__(self, origin, size, root):
        self.origin, self.size, self.root = origin, size, root


def format_checkpoint(cp):
    return b"%s\n%d\n%s\n" % (cp.origin.encode("utf-8"), cp.size, base64.b64encode(cp.root))


def parse_checkpoint(body):
    def bad(line, what, why):
        return VerifyError("malformed checkpoint: line %d (%s) %s" % (line, what, why))

    if not body.endswith(b"\n"):
        raise VerifyError("malformed checkpoint: does not end in a newline")
    lines = body[:-1].split(b"\n")
    if not lines[0]:
        raise bad(1, "origin", "is empty")
    origin = _decode_utf8(lines[0])
    if origin is None or not _clean_text(origin, False) or "\x7f" in origin:
        raise bad(1, "origin", "is not UTF-8 without control characters")
    if len(lines) < 2:
        raise bad(2, "tree size", "is missing")
    size = parse_canonical_uint64(lines[1])
    if size is None:
        raise bad(2, "tree size", "is not a canonical decimal uint64")
    if len(lines) < 3:
        raise bad(3, "root hash", "is missing")
    root = b64_canonical(lines[2])
    if root is None or len(root) != 32:
        raise bad(3, "root hash", "is not the canonical base64 of 32 bytes")
    for number, line in enumerate(lines[3:], start=4):
        if not line:
            raise bad(number, "extension", "is empty")
    return Checkpoint(origin, size, root)


def open_checkpoint(note, verifier):
    cp = parse_checkpoint(verifier.open(note))
    if cp.origin != verifier.name:
        raise VerifyError(
            "checkpoint: origin does not match the signing key's name " + verifier.name
        )
    return cp


MAX_FILTER_VALUE_BYTES = 128


def check_filter_value(name, value):
    if len(value) > MAX_FILTER_VALUE_BYTES:
        raise VerifyError("%s: at most %d characters" % (name, MAX_FILTER_VALUE_BYTES))
    if any(c <= 0x20 or c > 0x7E for c in value):
        raise VerifyError("%s: must be printable ASCII characters without spaces" % name)


class Filter:
    def __init__(self, principal_id=b"", action=b"", lead_id=b""):
        self.principal_id, self.action, self.lead_id = principal_id, action, lead_id

    def empty(self):
        return not (self.principal_id or self.action or self.lead_id)

    def validate(self):
        check_filter_value("principal_id", self.principal_id)
        check_filter_value("action", self.action)
        check_filter_value("lead_id", self.lead_id)

    def matches(self, e):
        if self.principal_id and e.principal_id != self.principal_id:
            return False
        if self.action and e.action != self.action:
            return False
        if self.lead_id and self.lead_id not in e.lead_ids:
            return False
        return True

    def members(self):
        return (
            ("principal_id", self.principal_id),
            ("action", self.action),
            ("lead_id", self.lead_id),
        )


class Manifest:
    pass


def leaf_chain(leaves):
    chain = bytes(32)
    for leaf in leaves:
        chain = sha256(chain, leaf)
    return chain


def format_manifest(m):
    f = m.filter
    return b"".join(
        [
            m.origin.encode("utf-8") + b" export-manifest\n",
            b"checkpoint %d %s\n" % (m.tree_size, base64.b64encode(m.root)),
            b"range %d %d\n" % (m.first_sequence, m.last_sequence),
            b"filter principal_id=%s action=%s lead_id=%s\n"
            % (f.principal_id, f.action, f.lead_id),
            b"matches %d\n" % m.matches,
            b"leaf_chain %s\n" % base64.b64encode(m.leaf_chain),
        ]
    )


def parse_manifest(text):
    def bad(line, what, why):
        return VerifyError("manifest line %d (%s) %s" % (line, what, why))

    def after(line, keyword):
        if line.startswith(keyword) and len(line) > len(keyword) and line[len(keyword)] == 0x20:
            return line[len(keyword) + 1 :]
        return None

    if not text.endswith(b"\n"):
        raise VerifyError("manifest: does not end in a newline")
    lines = text[:-1].split(b"\n")
    if len(lines) != 6:
        raise VerifyError(
            "manifest: has %d lines, expected 6 (not an export manifest)" % len(lines)
        )
    m = Manifest()
    suffix = b" export-manifest"
    if not lines[0].endswith(suffix) or len(lines[0]) == len(suffix):
        raise bad(1, "origin", 'does not end in " export-manifest" (not an export manifest)')
    origin = lines[0][: -len(suffix)]
    if b" " in origin:
        raise bad(1, "origin", "has a space")
    m.origin = origin.decode("utf-8", "surrogateescape")

    rest = after(lines[1], b"checkpoint")
    parts = rest.split(b" ") if rest is not None else []
    m.tree_size = parse_canonical_uint64(parts[0]) if len(parts) == 2 else None
    m.root = b64_canonical(parts[1]) if len(parts) == 2 else None
    if m.tree_size is None or m.root is None or len(m.root) != 32:
        raise bad(2, "checkpoint", 'is not "checkpoint <tree size> <base64 root>"')
    rest = after(lines[2], b"range")
    parts = rest.split(b" ") if rest is not None else []
    first = parse_canonical_uint64(parts[0]) if len(parts) == 2 else None
    last = parse_canonical_uint64(parts[1]) if len(parts) == 2 else None
    if first is None or last is None:
        raise bad(3, "range", 'is not "range <first_sequence> <last_sequence>"')
    m.first_sequence, m.last_sequence = first, last
    rest = after(lines[3], b"filter")
    parts = rest.split(b" ") if rest is not None else []
    names = (b"principal_id=", b"action=", b"lead_id=")
    if len(parts) != 3 or not all(p.startswith(n) for p, n in zip(parts, names)):
        raise bad(4, "filter", 'is not "filter principal_id=.. action=.. lead_id=.."')
    m.filter = Filter(*(p[len(n) :] for p, n in zip(parts, names)))
    try:
        m.filter.validate()
    except VerifyError as e:
        raise bad(4, "filter", str(e))
    rest = after(lines[4], b"matches")
    m.matches = parse_canonical_uint64(rest) if rest is not None else None
    if m.matches is None:
        raise bad(5, "matches", 'is not "matches <count>"')
    rest = after(lines[5], b"leaf_chain")
    m.leaf_chain = b64_canonical(rest) if rest is not None else None
    if m.leaf_chain is None or len(m.leaf_chain) != 32:
        raise bad(6, "leaf_chain", 'is not "leaf_chain <base64 of 32 bytes>"')
    return m


def open_manifest(note, verifier):
    m = parse_manifest(verifier.open(note))
    if m.origin != verifier.name:
        raise VerifyError("manifest: origin does not match the signing key's name " + verifier.name)
    return m


# ---------------------------------------------------------------------------
# The JSON Lines export: rendering (FORMAT.md, "Strings", "Times").

_PLAIN = [0x20 <= c < 0x7F and c not in (0x22, 0x5C) for c in range(256)]
_SHORT_ESCAPES = {0x22: b'\\"', 0x5C: b"\\\\", 0x08: b"\\b", 0x0C: b"\\f", 0x0A: b"\\n",
                  0x0D: b"\\r", 0x09: b"\\t"}


def _utf8_length(s, i):
    """Length of the well-formed UTF-8 sequence at s[i] (s[i] >= 0x80), or 0."""
    c = s[i]
    n = len(s) - i

    def cont(k):
        return s[i + k] & 0xC0 == 0x80

    if c < 0xC2:
        return 0
    if c < 0xE0:
        return 2 if n >= 2 and cont(1) else 0
    if c < 0xF0:
        lo = 0xA0 if c == 0xE0 else 0x80
        hi = 0x9F if c == 0xED else 0xBF
        return 3 if n >= 3 and lo <= s[i + 1] <= hi and cont(2) else 0
    if c < 0xF5:
        lo = 0x90 if c == 0xF0 else 0x80
        hi = 0x8F if c == 0xF4 else 0xBF
        return 4 if n >= 4 and lo <= s[i + 1] <= hi and cont(2) and cont(3) else 0
    return 0


def json_string(s):
    """The export's JSON string literal of the bytes `s`, quotes included."""
    out = bytearray(b'"')
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if _PLAIN[c]:
            j = i + 1
            while j < n and _PLAIN[s[j]]:
                j += 1
            out += s[i:j]
            i = j
            continue
        if c < 0x80:
            out += _SHORT_ESCAPES.get(c) or b"\\u%04x" % c
            i += 1
            continue
        length = _utf8_length(s, i)
        if length == 0:
            out += b"\\u%04x" % (0xDC00 | c)
            i += 1
        elif s[i : i + length] in (b"\xe2\x80\xa8", b"\xe2\x80\xa9"):
            out += b"\\u2028" if s[i + 2] == 0xA8 else b"\\u2029"
            i += length
        else:
            out += s[i : i + length]
            i += length
    out += b'"'
    return bytes(out)


def render_time(micros):
    """RFC 3339 UTC with six fraction digits; ISO 8601 expanded years outside 0..9999."""
    seconds, sub = divmod(micros, 1_000_000)
    days, second_of_day = divmod(seconds, 86_400)
    # Civil date from days since 1970-01-01 (H. Hinnant), proleptic Gregorian.
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    if 0 <= year <= 9999:
        y = b"%04d" % year
    else:
        y = (b"-" if year < 0 else b"+") + b"%04d" % abs(year)
    return y + b"-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        month,
        day,
        second_of_day // 3600,
        second_of_day // 60 % 60,
        second_of_day % 60,
        sub,
    )


def _json_list(items):
    return b"[" + b",".join(json_string(x) for x in items) + b"]"


def _hash_list(hashes):
    return b"[" + b",".join(b'"' + base64.b64encode(h) + b'"' for h in hashes) + b"]"


def render_entry_line(e, canonical, inclusion):
    """The entry line (without '\\n'); `inclusion` is None in unfiltered exports."""
    parts = [
        b'{"type":"entry","seq":%d,"time":"' % e.sequence,
        render_time(e.time_micros),
        b'","principal":', json_string(e.principal_id),
        b',"role":', json_string(e.role),
        b',"action":', json_string(e.action),
        b',"outcome":"', OUTCOMES[e.outcome].encode(),
        b'","code":%d' % e.code,
        b',"lead_ids":', _json_list(e.lead_ids),
        b',"fields":', _json_list(e.fields),
        b',"blind_tokens":', _json_list(e.blind_tokens),
        b',"purpose":', json_string(e.purpose),
        b',"request_id":', json_string(e.request_id),
        b',"peer":', json_string(e.peer),
        b',"break_glass_reason":', json_string(e.break_glass_reason),
        b',"subject":', json_string(e.subject),
        b',"canonical":"', base64.b64encode(canonical), b'"',
    ]
    if inclusion is not None:
        parts += [b',"inclusion":', _hash_list(inclusion)]
    parts.append(b"}")
    return b"".join(parts)


class Header:
    pass


def render_header(h):
    parts = [
        b'{"type":"header","format":"leadvault-audit-export","version":1,"origin":',
        json_string(h.origin),
        b',"first_sequence":%d,"last_sequence":%d' % (h.first_sequence, h.last_sequence),
    ]
    if h.filtered:
        parts += [
            b',"filtered":true,"filter_principal_id":', json_string(h.filter.principal_id),
            b',"filter_action":', json_string(h.filter.action),
            b',"filter_lead_id":', json_string(h.filter.lead_id),
        ]
    else:
        parts.append(b',"filtered":false')
    parts += [b',"left_frontier":', _hash_list(h.left_frontier), b"}"]
    return b"".join(parts)


def render_trailer(note, right_nodes, manifest):
    parts = [b'{"type":"checkpoint","note":', json_string(note),
             b',"right_nodes":', _hash_list(right_nodes)]
    if manifest:
        parts += [b',"manifest":', json_string(manifest)]
    parts.append(b"}")
    return b"".join(parts)


def render_consistency(from_size, proof):
    return b'{"type":"consistency","from_size":%d,"proof":%s}' % (from_size, _hash_list(proof))


# ---------------------------------------------------------------------------
# The JSON Lines export: reading and verifying (FORMAT.md, "Verification").

ENTRY_PREFIX = b'{"type":"entry",'
CHECKPOINT_PREFIX = b'{"type":"checkpoint",'
CONSISTENCY_PREFIX = b'{"type":"consistency",'
SEQ_PREFIX = b'{"type":"entry","seq":'
MAX_LINE_BYTES = 64 << 20
TAIL_BYTES = 1 << 20


def entry_error(sequence, line_number, what):
    if sequence == 0:
        return VerifyError("line %d: %s" % (line_number, what))
    return VerifyError("sequence %d (line %d): %s" % (sequence, line_number, what))


class _Flat:
    """A flat JSON object: strings, unsigned integers, booleans, arrays of strings."""

    def __init__(self, line):
        text = _decode_utf8(line)
        if text is None:
            raise VerifyError("invalid JSON: not UTF-8")

        def first_wins(pairs):
            d = {}
            for k, v in pairs:
                d.setdefault(k, v)
            return d

        try:
            value = json.loads(text, object_pairs_hook=first_wins)
        except ValueError as e:
            raise VerifyError("invalid JSON at byte %d: syntax error" % (getattr(e, "pos", 0) + 1))
        if not isinstance(value, dict):
            raise VerifyError("invalid JSON at byte 1: expected '{'")
        self.members = value

    def _get(self, key, ok):
        if key not in self.members:
            raise VerifyError('missing "%s"' % key)
        v = self.members[key]
        if not ok(v):
            raise VerifyError('"%s" has the wrong type' % key)
        return v

    def string(self, key):
        v = self._get(key, lambda v: isinstance(v, str))
        try:
            return v.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            raise VerifyError('"%s": invalid string' % key)

    def uint(self, key):
        return self._get(key, lambda v: type(v) is int and 0 <= v < U64)

    def boolean(self, key):
        return self._get(key, lambda v: type(v) is bool)

    def hashes(self, key):
        items = self._get(
            key, lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)
        )
        out = []
        for item in items:
            raw = b64_canonical(item)
            if raw is None:
                raise VerifyError('"%s": invalid base64 hash' % key)
            if len(raw) != 32:
                raise VerifyError('"%s": hash has %d bytes, want 32' % (key, len(raw)))
            out.append(raw)
        return out


def read_header_line(line):
    try:
        json_obj = _Flat(line)
    except VerifyError as e:
        raise _with_prefix("line 1: header: ", e)
    if json_obj.members.get("type") != "header":
        raise VerifyError("line 1: not an audit export header")
    version = json_obj.members.get("version")
    if (
        json_obj.members.get("format") != "leadvault-audit-export"
        or type(version) is not int
        or version != 1
    ):
        raise VerifyError("line 1: not a leadvault-audit-export version 1 header")
    h = Header()
    try:
        h.origin = json_obj.string("origin")
        h.first_sequence = json_obj.uint("first_sequence")
        h.last_sequence = json_obj.uint("last_sequence")
        h.filtered = json_obj.boolean("filtered")
        h.left_frontier = json_obj.hashes("left_frontier")
        h.filter = Filter()
        if h.filtered:
            h.filter = Filter(
                json_obj.string("filter_principal_id"),
                json_obj.string("filter_action"),
                json_obj.string("filter_lead_id"),
            )
    except VerifyError as e:
        raise _with_prefix("line 1: header: ", e)
    if render_header(h) != line:
        raise VerifyError("line 1: header is not in canonical form")
    if h.first_sequence == 0:
        raise VerifyError("line 1: first_sequence must be at least 1")
    if h.filtered:
        if h.left_frontier:
            raise VerifyError("line 1: a filtered export has no left_frontier")
        if h.filter.empty():
            raise VerifyError("line 1: a filtered export names no filter")
        try:
            h.filter.validate()
        except VerifyError as e:
            raise _with_prefix("line 1: filter_", e)
    if h.last_sequence < h.first_sequence - 1:
        raise VerifyError("line 1: last_sequence is before first_sequence - 1")
    h.origin = h.origin.decode("utf-8")
    return h


class Trailer:
    pass


def read_trailer_line(line, label, filtered):
    try:
        json_obj = _Flat(line)
        t = Trailer()
        t.note = json_obj.string("note")
        t.right_nodes = json_obj.hashes("right_nodes")
    except VerifyError as e:
        raise _with_prefix(label + ": checkpoint line: ", e)
    try:
        manifest = json_obj.string("manifest")
    except VerifyError:
        manifest = None
    t.manifest = b""
    if filtered:
        if not manifest:
            raise VerifyError(
                label + ': a filtered export needs the daemon\'s signed manifest ("manifest"), '
                "which is missing"
            )
        t.manifest = manifest
    elif manifest is not None:
        raise VerifyError(label + ": a manifest in an unfiltered export")
    if render_trailer(t.note, t.right_nodes, t.manifest) != line:
        raise VerifyError(label + ": checkpoint line is not in canonical form")
    return t


def read_consistency_line(line, label):
    try:
        json_obj = _Flat(line)
        from_size = json_obj.uint("from_size")
        proof = json_obj.hashes("proof")
    except VerifyError as e:
        raise _with_prefix(label + ": consistency line: ", e)
    if render_consistency(from_size, proof) != line:
        raise VerifyError(label + ": consistency line is not in canonical form")
    return from_size, proof


def _displayed_sequence(line):
    if not line.startswith(SEQ_PREFIX):
        return 0
    digits = b""
    for c in line[len(SEQ_PREFIX) :]:
        if not 0x30 <= c <= 0x39:
            break
        digits += bytes([c])
    v = int(digits) if digits else 0
    return v if v < U64 else 0


def read_entry_line(line, line_number, filtered):
    """(entry, canonical bytes, leaf hash, inclusion proof or None) of one entry line."""
    shown = _displayed_sequence(line)
    key = b'"canonical":"'
    at = line.rfind(key)
    end = line.find(b'"', at + len(key)) if at >= 0 else -1
    if at < 0 or end < 0:
        raise entry_error(shown, line_number, 'no "canonical" field')
    after = line[end + 1 :]
    inclusion = None
    if after != b"}":
        if not after.startswith(b',"inclusion":[') or not after.endswith(b"]}"):
            raise entry_error(shown, line_number, 'unexpected text after the "canonical" field')
        inclusion = []
        body = after[len(b',"inclusion":[') : -2]
        items = body.split(b",") if body else []
        for item in items:
            raw = None
            if len(item) == 46 and item[:1] == b'"' and item[-1:] == b'"':
                raw = b64_canonical(item[1:-1])
            if raw is None or len(raw) != 32:
                raise entry_error(shown, line_number, "malformed inclusion proof")
            inclusion.append(raw)
    canonical = b64_canonical(line[at + len(key) : end])
    if canonical is None:
        raise entry_error(shown, line_number, "canonical bytes: invalid base64")
    try:
        e = decode_canonical(canonical)
    except VerifyError as err:
        raise entry_error(shown, line_number, "canonical bytes: %s" % err)
    if encode_canonical(e) != canonical:
        raise entry_error(e.sequence, line_number, "canonical bytes are not in canonical form")
    if (inclusion is not None) != filtered:
        raise entry_error(
            e.sequence,
            line_number,
            "no inclusion proof in a filtered export"
            if filtered
            else "an inclusion proof in an unfiltered export",
        )
    rendered = render_entry_line(e, canonical, inclusion)
    if rendered != line:
        diff = 0
        while diff < min(len(rendered), len(line)) and rendered[diff] == line[diff]:
            diff += 1
        raise entry_error(
            e.sequence,
            line_number,
            "the displayed fields differ from the canonical bytes (from byte %d of the line)"
            % (diff + 1),
        )
    return e, canonical, leaf_hash(canonical), inclusion


class Report:
    pass


class ExportVerifier:
    """Verifies one export file; run() returns a Report or raises VerifyError."""

    def __init__(self, path, verifier, trusted=None):
        self.path = path
        self.verifier = verifier
        self.trusted = trusted
        self.entries = 0
        self.last_seen = 0
        self.leaves = []  # filtered: the entries' leaf hashes, for the leaf chain
        self.trusted_checked = False
        self.trailer = None  # (line, Trailer, Checkpoint, Manifest or None)
        self.tail_trailer = None
        self.consistency = None
        self.last_line = 0

    def run(self):
        try:
            f = open(self.path, "rb")
        except OSError as e:
            raise VerifyError("cannot open %s: %s" % (self.path, e.strerror))
        with f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise VerifyError("%s is not a regular file" % self.path)
            self._run(f, st.st_size)
        if self.trailer is None:
            seen = " (sequence %d)" % self.last_seen if self.entries > 0 else ""
            raise VerifyError(
                "truncated: no checkpoint line after line %d%s" % (self.last_line, seen)
            )
        self._check_trusted_at_end()
        r = Report()
        r.entries = self.entries
        r.first_sequence = self.header.first_sequence
        r.last_sequence = self.header.last_sequence
        r.filtered = self.header.filtered
        r.checkpoint = self.trailer[2]
        r.trusted_checked = self.trusted_checked
        r.manifest = self.trailer[3]
        return r

    def _run(self, f, size):
        if size == 0:
            raise VerifyError("line 1: empty file, no header")
        if os.pread(f.fileno(), 1, size - 1) != b"\n":
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
            raise VerifyError("line %d: does not end in '\\n' (truncated file?)" % (lines + 1))
        f.seek(0)
        number = 0
        state = "header"
        for raw in f:
            number += 1
            if len(raw) > MAX_LINE_BYTES + 1:
                raise VerifyError("line %d: longer than %d bytes" % (number, MAX_LINE_BYTES))
            self.last_line = number
            line = raw[:-1]
            if state == "header":
                self.header = read_header_line(line)
                self._start()
                if self.header.filtered:
                    self._read_trailer_from_end(f.fileno(), size)
                else:
                    self._check_trusted_in_stream(1)
                state = "entries"
            elif state == "entries" and line.startswith(ENTRY_PREFIX):
                self._on_entry(line, number)
            elif state == "entries":
                if not line.startswith(CHECKPOINT_PREFIX):
                    raise VerifyError("line %d: expected an entry or the checkpoint line" % number)
                self._on_checkpoint_line(line, number)
                state = "checkpoint"
            elif state == "checkpoint":
                if not line.startswith(CONSISTENCY_PREFIX):
                    raise VerifyError("line %d: unexpected line after the checkpoint" % number)
                self._on_consistency_line(line, number)
                state = "consistency"
            else:
                raise VerifyError("line %d: unexpected line after the trailer" % number)

    def _start(self):
        h = self.header
        if not h.filtered:
            try:
                self.frontier = Frontier(h.first_sequence - 1, h.left_frontier)
            except VerifyError as e:
                raise _with_prefix("line 1: left_frontier: ", e)
        if self.trusted is not None and self.trusted.origin != h.origin:
            raise VerifyError("line 1: the export's origin differs from the trusted checkpoint's")

    def _open_trailer(self, line, label):
        h = self.header
        t = read_trailer_line(line, label, h.filtered)
        try:
            cp = open_checkpoint(t.note, self.verifier)
        except VerifyError as e:
            raise _with_prefix("checkpoint: ", e)
        if cp.origin != h.origin:
            raise VerifyError("checkpoint: its origin differs from the header's origin")
        if cp.size < h.last_sequence:
            raise VerifyError(
                "checkpoint: tree size %d does not cover last_sequence %d"
                % (cp.size, h.last_sequence)
            )
        if h.filtered and t.right_nodes:
            raise VerifyError("checkpoint: a filtered export has no right_nodes")
        manifest = None
        if h.filtered:
            try:
                manifest = open_manifest(t.manifest, self.verifier)
            except VerifyError as e:
                raise _with_prefix("manifest: ", e)
            self._check_manifest_against_header(manifest, cp)
        return (line, t, cp, manifest)

    def _check_manifest_against_header(self, m, cp):
        h = self.header
        if m.origin != h.origin:
            raise VerifyError("manifest: its origin differs from the header's origin")
        if m.tree_size != cp.size:
            raise VerifyError(
                "manifest: it was made against tree size %d, the export's checkpoint has tree "
                "size %d (the manifest of another export?)" % (m.tree_size, cp.size)
            )
        if m.root != cp.root:
            raise VerifyError(
                "manifest: its root differs from the export's checkpoint root (the manifest of "
                "another export?)"
            )
        if (m.first_sequence, m.last_sequence) != (h.first_sequence, h.last_sequence):
            raise VerifyError(
                "manifest: it covers sequences [%d, %d], the header [%d, %d]"
                % (m.first_sequence, m.last_sequence, h.first_sequence, h.last_sequence)
            )
        for (name, signed), (_, shown) in zip(m.filter.members(), h.filter.members()):
            if signed != shown:
                raise VerifyError(
                    "manifest: its filter %s differs from the header's filter_%s" % (name, name)
                )

    def _read_trailer_from_end(self, fd, size):
        n = min(TAIL_BYTES, size)
        offset = size - n
        rest = os.pread(fd, n, offset)
        if not rest.endswith(b"\n"):
            raise VerifyError("truncated: the file does not end in '\\n'")

        def take_last_line(rest):
            rest = rest[:-1]
            nl = rest.rfind(b"\n")
            if nl < 0 and offset > 0:
                return None, rest
            start = nl + 1
            return rest[start:], rest[:start]

        line, rest = take_last_line(rest)
        if line is None:
            raise VerifyError("checkpoint: trailer lines longer than 1 MiB")
        if line.startswith(CONSISTENCY_PREFIX):
            if not rest:
                raise VerifyError("truncated: no checkpoint line at the end of the file")
            line, rest = take_last_line(rest)
            if line is None:
                raise VerifyError("truncated: no checkpoint line at the end of the file")
        if not line.startswith(CHECKPOINT_PREFIX):
            raise VerifyError("truncated: no checkpoint line at the end of the file")
        self.tail_trailer = self._open_trailer(line, "checkpoint line")

    def _on_entry(self, line, number):
        h = self.header
        e, _, leaf, inclusion = read_entry_line(line, number, h.filtered)
        seq = e.sequence
        if h.filtered:
            cp = self.tail_trailer[2]
            if seq < h.first_sequence or seq > h.last_sequence:
                raise entry_error(
                    seq,
                    number,
                    "outside the export's range [%d, %d]" % (h.first_sequence, h.last_sequence),
                )
            if not h.filter.matches(e):
                raise entry_error(seq, number, "does not match the export's filter")
            try:
                verify_inclusion(seq - 1, cp.size, leaf, inclusion, cp.root)
            except VerifyError as err:
                raise entry_error(
                    seq, number, "inclusion proof against the checkpoint fails: %s" % err
                )
            if self.entries > 0 and seq <= self.last_seen:
                raise entry_error(
                    seq,
                    number,
                    "not after sequence %d (duplicate or out of order)" % self.last_seen,
                )
            self.leaves.append(leaf)
        else:
            if self.entries == h.last_sequence - (h.first_sequence - 1):
                raise entry_error(
                    seq, number, "beyond the export's last_sequence %d" % h.last_sequence
                )
            expected = h.first_sequence + self.entries
            if seq > expected:
                raise entry_error(
                    expected,
                    number,
                    "missing: found sequence %d here (an entry is missing or out of order)" % seq,
                )
            if seq < expected:
                raise entry_error(
                    seq,
                    number,
                    "already seen (duplicate or out of order); expected sequence %d" % expected,
                )
            self.frontier.append(leaf)
            self._check_trusted_in_stream(number)
        self.last_seen = seq
        self.entries += 1

    def _check_trusted_in_stream(self, number):
        t = self.trusted
        if t is None or self.trusted_checked or self.frontier.size != t.size:
            return
        if self.frontier.root() != t.root:
            what = (
                "the tree of %d entries differs from the trusted checkpoint of that size (fork)"
                % self.frontier.size
            )
            if number <= 1:
                raise VerifyError("line 1: " + what)
            raise entry_error(self.frontier.size, number, what)
        self.trusted_checked = True

    def _on_checkpoint_line(self, line, number):
        label = "line %d" % number
        if self.tail_trailer is not None:
            if line != self.tail_trailer[0]:
                raise VerifyError(label + ": a checkpoint line that is not the file's trailer")
            self.trailer = self.tail_trailer
        else:
            self.trailer = self._open_trailer(line, label)
        _, t, cp, m = self.trailer
        h = self.header
        if h.filtered:
            if self.entries != m.matches:
                raise VerifyError(
                    "manifest: the file has %d entry lines, the daemon attested %d matching "
                    "entries in [%d, %d] (%s)"
                    % (
                        self.entries,
                        m.matches,
                        m.first_sequence,
                        m.last_sequence,
                        "an entry was removed"
                        if self.entries < m.matches
                        else "an entry was added",
                    )
                )
            if leaf_chain(self.leaves) != m.leaf_chain:
                raise VerifyError(
                    "manifest: the entry lines' leaf_chain differs from the attested one (an "
                    "entry was replaced by another, or the manifest is another export's)"
                )
            return
        expected = h.last_sequence - (h.first_sequence - 1)
        if self.entries != expected:
            raise VerifyError(
                "truncated: entries after sequence %d are missing (the header promises up to %d)"
                % (h.first_sequence - 1 + self.entries, h.last_sequence)
            )
        ids = range_nodes(h.last_sequence, cp.size)
        if len(t.right_nodes) != len(ids):
            raise VerifyError(
                "checkpoint: right_nodes has %d hashes, expected %d for leaves [%d, %d)"
                % (len(t.right_nodes), len(ids), h.last_sequence, cp.size)
            )
        for (level, index), node in zip(ids, t.right_nodes):
            try:
                self.frontier.append_node(level, index, node)
            except VerifyError as e:
                raise _with_prefix("checkpoint: right_nodes: ", e)
        if self.frontier.root() != cp.root:
            raise VerifyError(
                "root mismatch: the %d entries with the left frontier and right nodes do not "
                "rebuild the checkpoint's root (tree size %d)" % (self.entries, cp.size)
            )

    def _on_consistency_line(self, line, number):
        label = "line %d" % number
        from_size, proof = read_consistency_line(line, label)
        if from_size > self.trailer[2].size:
            raise VerifyError(
                label + ": consistency from_size is beyond the checkpoint's tree size"
            )
        self.consistency = (from_size, proof)

    def _check_trusted_at_end(self):
        t = self.trusted
        if t is None:
            return
        cp = self.trailer[2]
        if t.size > cp.size:
            raise VerifyError(
                "rollback: the export's checkpoint (tree size %d) is older than the trusted "
                "checkpoint (tree size %d)" % (cp.size, t.size)
            )
        if t.size == cp.size:
            if t.root != cp.root:
                raise VerifyError(
                    "checkpoint: root differs from the trusted checkpoint of the same tree "
                    "size %d (fork)" % cp.size
                )
            self.trusted_checked = True
            return
        if t.size == 0 and not self.trusted_checked:
            if t.root != EMPTY_TREE_HASH:
                raise VerifyError("checkpoint: the trusted empty tree has a wrong root")
            self.trusted_checked = True
        c = self.consistency
        if c is not None and c[0] == t.size and t.size != 0:
            try:
                verify_consistency(t.size, cp.size, t.root, cp.root, c[1])
            except VerifyError as e:
                raise _with_prefix(
                    "checkpoint: not consistent with the trusted checkpoint (tree size %d): "
                    % t.size,
                    e,
                )
            self.trusted_checked = True
            return
        if self.trusted_checked:
            return
        raise VerifyError(
            "checkpoint: a consistency proof from the trusted tree size %d to %d is needed%s"
            % (
                t.size,
                cp.size,
                " (the export's is from size %d)" % c[0]
                if c is not None
                else " (the export has none: export with --trusted and the same checkpoint "
                "file to include it)",
            )
        )


def verify_export(path, verifier, trusted=None):
    """Verifies the export at `path`; a Report, or VerifyError naming the first fault."""
    return ExportVerifier(path, verifier, trusted).run()


def describe(report):
    r = report
    line = "OK: %d entries (sequences %d..%d%s) match checkpoint %s size %d%s" % (
        r.entries,
        r.first_sequence,
        r.last_sequence,
        ", filtered, each with its inclusion proof" if r.filtered else "",
        r.checkpoint.origin,
        r.checkpoint.size,
        ", consistent with the trusted checkpoint" if r.trusted_checked else "",
    )
    if r.manifest is None:
        proof = (
            "Proven: every entry from sequence %d to %d is here, unaltered and in order, under "
            "the signed Merkle root; this relies on the daemon only for signing that root."
            % (r.first_sequence, r.last_sequence)
        )
    else:
        names = " and ".join(n for n, v in r.manifest.filter.members() if v)
        proof = (
            "Proven: every entry from sequence %d to %d matching the export's filter (%s) is "
            "here: %d entries, as the daemon attested in its signed manifest; each is unaltered "
            "and in the signed Merkle tree. Not proven: that no other entry matches."
            % (r.first_sequence, r.last_sequence, names, r.manifest.matches)
        )
    return line + "\n" + proof


# ---------------------------------------------------------------------------
# The test vectors (audit/testdata/vectors.json).


def _b(s):
    """A vectors-file string as bytes (the export's surrogate escape convention)."""
    return s.encode("utf-8", "surrogateescape")


def _entry_from_json(j):
    e = Entry()
    e.sequence = j["sequence"]
    e.time_micros = j["time_unix_micros"]
    for name in STRING_FIELDS + TAIL_FIELDS:
        setattr(e, name, _b(j[name]))
    for name in LIST_FIELDS:
        setattr(e, name, [_b(x) for x in j[name]])
    e.outcome = OUTCOME_VALUES[j["outcome"]]
    e.code = j["code"]
    return e


def _where(message):
    """The part of a failure message that says where: up to its first ': '."""
    return message.split(": ", 1)[0]


def check_vectors(path):
    """Checks every vector of `path`; the list of failures (empty when all pass)."""
    with open(path, "rb") as f:
        v = json.loads(f.read().decode("utf-8"))
    failures = []
    checks = [0]

    def check(ok, what):
        checks[0] += 1
        if not ok:
            failures.append(what)

    def flip(h):
        return bytes([h[0] ^ 1]) + h[1:]

    for group in ("entries", "more_entries"):
        for vec in v[group]:
            name = "%s: %s" % (group, vec["name"])
            e = _entry_from_json(vec["entry"])
            canonical = bytes.fromhex(vec["canonical_hex"])
            check(OUTCOME_VALUES[vec["entry"]["outcome"]] == vec["entry"]["outcome_value"], name)
            check(encode_canonical(e) == canonical, name + ": canonical bytes")
            try:
                check(decode_canonical(canonical) == e, name + ": decoded entry")
            except VerifyError as err:
                check(False, "%s: decode: %s" % (name, err))
            check(leaf_hash(canonical).hex() == vec["leaf_hash_hex"], name + ": leaf hash")
            check(render_time(e.time_micros) == _b(vec["entry"]["time"]), name + ": time")
            check(
                render_entry_line(e, canonical, None) == _b(vec["export_line"]),
                name + ": export line",
            )
            try:
                read_entry_line(_b(vec["export_line"]), 2, False)
                check(True, name)
            except VerifyError as err:
                check(False, "%s: reading its export line: %s" % (name, err))
    for vec in v["malformed_canonical"]:
        try:
            decode_canonical(bytes.fromhex(vec["hex"]))
            check(False, "malformed_canonical: %s: accepted" % vec["name"])
        except VerifyError as err:
            check(str(err) == vec["error"], "malformed_canonical: %s: %s" % (vec["name"], err))

    tree = v["tree"]
    leaves = [bytes.fromhex(x["leaf_hash_hex"]) for x in v["entries"]]
    roots = {r["tree_size"]: bytes.fromhex(r["root_hex"]) for r in tree["roots"]}
    check(EMPTY_TREE_HASH.hex() == tree["empty_tree_hex"], "tree: empty tree hash")
    check(node_hash(leaves[0], leaves[1]).hex() == tree["node_hash_of_leaves_0_1_hex"], "node hash")
    frontier = Frontier()
    for n in range(len(leaves) + 1):
        if n:
            frontier.append(leaves[n - 1])
        check(frontier.root() == roots[n], "tree: root of size %d" % n)
        check(
            Frontier(n, [roots_node for roots_node in _compact(leaves[:n])]).root() == roots[n],
            "tree: compact range of size %d" % n,
        )
    for p in tree["inclusion_proofs"]:
        i, n = p["leaf_index"], p["tree_size"]
        proof = [bytes.fromhex(x) for x in p["proof_hex"]]
        what = "tree: inclusion of leaf %d in %d" % (i, n)
        try:
            verify_inclusion(i, n, leaves[i], proof, roots[n])
            check(True, what)
        except VerifyError as err:
            check(False, "%s: %s" % (what, err))
        for bad in _mutations(proof, flip):
            try:
                verify_inclusion(i, n, leaves[i], bad, roots[n])
                check(False, what + ": a mutated proof verified")
            except VerifyError:
                check(True, what)
    for p in tree["consistency_proofs"]:
        m, n = p["size1"], p["size2"]
        proof = [bytes.fromhex(x) for x in p["proof_hex"]]
        what = "tree: consistency %d -> %d" % (m, n)
        try:
            verify_consistency(m, n, roots[m], roots[n], proof)
            check(True, what)
        except VerifyError as err:
            check(False, "%s: %s" % (what, err))
        for bad in _mutations(proof, flip):
            try:
                verify_consistency(m, n, roots[m], roots[n], bad)
                check(False, what + ": a mutated proof verified")
            except VerifyError:
                check(True, what)

    keys = v["keys"]
    verifier = None
    signer = None
    for role in ("log", "other"):
        k = keys[role]
        seed = bytes.fromhex(k["seed_hex"])
        phrase = k["seed"][len('SHA-256("') : -2]
        check(sha256(phrase.encode("utf-8")) == seed, "keys: %s: seed" % role)
        private = Ed25519PrivateKey.from_private_bytes(seed)
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        check(public.hex() == k["public_key_hex"], "keys: %s: public key" % role)
        kid = key_id(k["key_name"], public)
        check("%08x" % kid == k["key_id_hex"], "keys: %s: key id" % role)
        text = "%s+%08x+%s" % (
            k["key_name"],
            kid,
            base64.b64encode(b"\x01" + public).decode("ascii"),
        )
        check(text == k["verifier_key"], "keys: %s: verifier key" % role)
        if role == "log":
            verifier = NoteVerifier(k["verifier_key"])
            signer = (private, k["key_name"], kid)

    def sign(text):
        private, name, kid = signer
        signature = kid.to_bytes(4, "big") + private.sign(text)
        line = ("\u2014 %s " % name).encode("utf-8") + base64.b64encode(signature)
        return text + b"\n" + line + b"\n"

    trusted = {}
    for c in v["checkpoints"]:
        what = "checkpoints: " + c["name"]
        note = _b(c["note"])
        cp = Checkpoint(c["origin"], c["tree_size"], bytes.fromhex(c["root_hex"]))
        check(format_checkpoint(cp) == _b(c["body"]), what + ": body")
        check(sign(_b(c["body"])) == note, what + ": signed note")
        try:
            opened = open_checkpoint(note, verifier)
            check(
                (opened.origin, opened.size, opened.root) == (cp.origin, cp.size, cp.root), what
            )
            trusted[c["name"]] = opened
        except VerifyError as err:
            check(False, "%s: %s" % (what, err))
        try:
            verifier.open(note.replace(b"\n\n", b"\n\n\n", 1))
            check(False, what + ": a changed note opened")
        except VerifyError:
            check(True, what)

    mv = v["manifest"]
    m = Manifest()
    m.origin = keys["log"]["key_name"]
    size = len(leaves)
    m.tree_size, m.root, m.first_sequence, m.last_sequence = size, roots[size], 1, size
    m.filter = Filter(*(_b(mv["filter"][k]) for k in ("principal_id", "action", "lead_id")))
    matching = [
        s for s, x in enumerate(v["entries"], start=1)
        if m.filter.matches(_entry_from_json(x["entry"]))
    ]
    check(matching == mv["matching_sequences"], "manifest: matching sequences")
    m.matches = len(matching)
    m.leaf_chain = leaf_chain(leaves[s - 1] for s in matching)
    check(m.leaf_chain.hex() == mv["leaf_chain_hex"], "manifest: leaf chain")
    check(format_manifest(m) == _b(mv["text"]), "manifest: text")
    check(sign(_b(mv["text"])) == _b(mv["note"]), "manifest: signed note")
    try:
        parsed = open_manifest(_b(mv["note"]), verifier)
        check(format_manifest(parsed) == _b(mv["text"]), "manifest: parsed")
    except VerifyError as err:
        check(False, "manifest: %s" % err)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "export.jsonl")
        for x in v["exports"]:
            what = "exports: " + x["name"]
            with open(path, "wb") as f:
                f.write(_b(x["text"]))
            want = x["expect"]
            try:
                r = verify_export(path, verifier, trusted.get(x["trusted"]))
                got = {
                    "ok": True,
                    "entries": r.entries,
                    "first_sequence": r.first_sequence,
                    "last_sequence": r.last_sequence,
                    "filtered": r.filtered,
                    "checkpoint_size": r.checkpoint.size,
                    "trusted_checked": r.trusted_checked,
                }
                check(got == want, "%s: accepted as %s, want %s" % (what, got, want))
            except VerifyError as err:
                check(
                    not want["ok"] and _where(str(err)) == _where(want["error"]),
                    "%s: refused with %r, want %r" % (what, str(err), want.get("error", "ok")),
                )
    return checks[0], failures


def _compact(leaves):
    """The compact range of `leaves` computed from scratch, for cross-checking."""

    def mth(ls):
        if len(ls) == 1:
            return ls[0]
        k = 1 << ((len(ls) - 1).bit_length() - 1)
        return node_hash(mth(ls[:k]), mth(ls[k:]))

    return [mth(leaves[i << lv : (i + 1) << lv]) for lv, i in range_nodes(0, len(leaves))]


def _mutations(proof, flip):
    """Proofs that must not verify: each hash flipped, one hash dropped, one added."""
    out = [proof[:k] + [flip(proof[k])] + proof[k + 1 :] for k in range(len(proof))]
    if proof:
        out.append(proof[:-1])
    out.append(proof + [bytes(32)])
    return out


# ---------------------------------------------------------------------------
# Command line.


def _load_verifier(pubkey):
    text = pubkey
    if "+" not in pubkey or os.access(pubkey, os.R_OK):
        with open(pubkey, "rb") as f:
            text = f.read().decode("utf-8")
    return NoteVerifier(text.strip(" \t\n\v\f\r"))


def _cmd_verify(args):
    try:
        verifier = _load_verifier(args.pubkey)
    except (OSError, UnicodeDecodeError, VerifyError) as e:
        what = getattr(e, "strerror", None) or e
        print("leadvault_audit: --pubkey: %s" % what, file=sys.stderr)
        return EXIT_USAGE
    trusted = None
    if args.trusted:
        try:
            with open(args.trusted, "rb") as f:
                note = f.read()
        except OSError as e:
            print("leadvault_audit: --trusted: %s" % e.strerror, file=sys.stderr)
            return EXIT_USAGE
        try:
            trusted = open_checkpoint(note, verifier)
        except VerifyError as e:
            print("leadvault_audit: trusted checkpoint: %s" % e, file=sys.stderr)
            return EXIT_FAILED
    try:
        report = verify_export(args.file, verifier, trusted)
    except VerifyError as e:
        print("leadvault_audit: verify FAILED: %s" % e, file=sys.stderr)
        return EXIT_FAILED
    print(describe(report))
    return EXIT_OK


def _cmd_vectors(args):
    try:
        count, failures = check_vectors(args.file)
    except (OSError, ValueError, KeyError) as e:
        print("leadvault_audit: vectors: cannot read %s: %s" % (args.file, e), file=sys.stderr)
        return EXIT_USAGE
    for failure in failures:
        print("leadvault_audit: vector FAILED: %s" % failure, file=sys.stderr)
    if failures:
        return EXIT_FAILED
    print("OK: %d checks of %s passed" % (count, args.file))
    return EXIT_OK


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="verify a JSON Lines export offline")
    verify.add_argument("file", help="the export (leadvaultctl audit export --format jsonl)")
    verify.add_argument("--pubkey", required=True, help="the verifier key, or a file holding it")
    verify.add_argument("--trusted", help="a signed checkpoint trusted from before")
    vectors = sub.add_parser("vectors", help="check the test vectors of audit/FORMAT.md")
    vectors.add_argument("file", help="audit/testdata/vectors.json")
    args = parser.parse_args(argv)
    if Ed25519PublicKey is None:
        print("leadvault_audit: needs python3-cryptography (Ed25519)", file=sys.stderr)
        return EXIT_USAGE
    return _cmd_verify(args) if args.command == "verify" else _cmd_vectors(args)


if __name__ == "__main__":
    sys.exit(main())
