"""corpus_lib.py: parsers, cleaning, alignment and splitting for fetch-corpus.py.

Pure functions on bytes and strings, no network and no subprocesses, so tests/corpus/ can
exercise them on hand-made inputs:
  parse_mo / mo_entries      GNU .mo catalogs -> (msgid, msgstr), header/plural/context handled
  parse_deb822 / descriptions / description_segments / add_descriptions
                             apt Translation-XX indexes (DDTP) -> paragraph pairs
  align / align_message      long blocks -> bullet items or sentences, when both sides agree
  clean_pair                 the cleaning rules (see data/README.md)
  split_of / split_rows      the deterministic split by English source sentence
  Corpus                     English source -> translations per language, and pivots X-Y
Python 3 standard library only.
"""
import collections, functools, hashlib, os, re, struct, unicodedata, zlib

LANGS = ["de", "fr", "es", "it", "ja", "ru", "uk", "pl"]
REGION = {"de": "DE", "fr": "FR", "es": "ES", "it": "IT", "ja": "JP", "ru": "RU", "uk": "UA",
          "pl": "PL"}
MINLEN, MAXLEN = 3, 200
HELD_OUT = 0.02       # hash fraction for valid, the same again for test
CAP = 1000            # at most this many valid (and test) pairs per direction
CLEAN_VERSION = "3"   # bump when a rule changes: fetch-corpus.py's cached pairs are redone

# ---- parsers -----------------------------------------------------------------------------------
def parse_mo(data):
    """Yields (msgid, msgstr) byte strings of a GNU .mo catalog (either byte order)."""
    if len(data) < 28:
        raise ValueError("too short for a .mo file")
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else None
    if end is None:
        raise ValueError("bad .mo magic")
    _rev, n, orig, trans = struct.unpack(end + "4I", data[4:20])
    try:
        for i in range(n):
            ml, mo = struct.unpack_from(end + "2I", data, orig + 8 * i)
            tl, to = struct.unpack_from(end + "2I", data, trans + 8 * i)
            if mo + ml > len(data) or to + tl > len(data):
                raise ValueError("string outside the file")
            yield data[mo:mo + ml], data[to:to + tl]
    except struct.error as e:
        raise ValueError(f"truncated .mo file ({e})") from None


def mo_entries(data):
    """Decoded (msgid, msgstr) of a .mo: header, plural and empty entries skipped, a msgctxt
    prefix (context\\x04msgid) stripped; the charset comes from the header."""
    raw = list(parse_mo(data))
    charset = "utf-8"
    for mid, mstr in raw:
        if mid == b"":
            m = re.search(rb"charset=([\w.-]+)", mstr)
            if m and m.group(1).lower() not in (b"charset", b"cp-1252"):
                charset = m.group(1).decode("ascii")
    try:
        "".encode(charset)
    except LookupError:
        charset = "utf-8"
    out = []
    for mid, mstr in raw:
        if mid == b"" or b"\x00" in mid or b"\x00" in mstr or not mstr:
            continue
        if b"\x04" in mid:
            mid = mid.split(b"\x04", 1)[1]
        try:
            out.append((mid.decode(charset), mstr.decode(charset)))
        except (UnicodeDecodeError, LookupError):
            continue
    return out


def parse_deb822(text):
    """Paragraphs of a deb822 file as dicts; continuation lines keep their leading space."""
    paras, cur, key = [], {}, None
    for line in text.split("\n"):
        if not line.strip():
            if cur:
                paras.append(cur)
            cur, key = {}, None
        elif line[0] in " \t" and key:
            cur[key] += "\n" + line
        elif ":" in line:
            key, val = line.split(":", 1)
            cur[key] = val.strip()
    if cur:
        paras.append(cur)
    return paras


def description_segments(desc):
    """A Description field as a list of paragraphs, each a list of lines (the synopsis first,
    as a one-line paragraph); " ." separates paragraphs."""
    lines = desc.split("\n")
    paras, cur = [[lines[0].strip()]], []
    for ln in lines[1:]:
        if ln.strip() == ".":
            if cur:
                paras.append(cur)
            cur = []
        else:
            cur.append(ln[1:] if ln.startswith(" ") else ln)
    if cur:
        paras.append(cur)
    return paras


# ---- segment alignment -------------------------------------------------------------------------
ABBREV = {"e.g", "i.e", "etc", "vs", "z.b", "b", "d.h", "bzw", "usw", "ca", "nr", "ex", "dr",
          "p.ex", "mr", "mrs", "no", "u.a", "sog", "vgl", "inkl", "evtl", "ggf", "ecc", "ej",
          "p.ej", "approx", "incl", "resp", "cf", "ver", "ст", "т.е", "т.д", "т.п", "др", "np",
          "tj", "itp", "itd", "m.in", "tzn"}
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？])\s*(?=\S)")
_BULLET = re.compile(r"^\s*(?:[-*+o•]|\d+[.)])\s+")


def sentences(text):
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        before = text[start:m.start()]
        last = before.rsplit(None, 1)[-1] if before.split() else ""
        word = last.rstrip(".!?").lower().lstrip("(\"'«")
        if text[m.end()].islower() or last.endswith(".") and (
                word in ABBREV or len(word) == 1 or word.isdigit()):
            continue
        out.append(before.strip())
        start = m.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


def _join(lines):
    return " ".join(" ".join(lines).split())


def align(src_lines, tgt_lines):
    """Pairs of aligned segments from one source block and its translation (lists of lines):
    the whole block if it fits, else bullet items or sentences where both sides have the same
    number of them. Unalignable long blocks give nothing."""
    s, t = _join(src_lines), _join(tgt_lines)
    if len(s) <= MAXLEN and len(t) <= MAXLEN:
        return [(s, t)]
    out = []
    sb = [i for i, ln in enumerate(src_lines) if _BULLET.match(ln)]
    tb = [i for i, ln in enumerate(tgt_lines) if _BULLET.match(ln)]
    if sb and len(sb) == len(tb) and len(src_lines) > 1:
        def items(lines, idx):
            cuts = ([0] if idx[0] else []) + idx + [len(lines)]
            return [lines[a:b] for a, b in zip(cuts, cuts[1:])]
        si, ti = items(src_lines, sb), items(tgt_lines, tb)
        if len(si) == len(ti):
            for a, b in zip(si, ti):
                a, b = _BULLET.sub("", _join(a), 1), _BULLET.sub("", _join(b), 1)
                if len(a) <= MAXLEN and len(b) <= MAXLEN:
                    out.append((a, b))
                else:
                    out += _sent_pairs(a, b)
            return out
    return _sent_pairs(s, t)


def _sent_pairs(s, t):
    ss, ts = sentences(s), sentences(t)
    if len(ss) != len(ts) or len(ss) < 2:
        return []
    return list(zip(ss, ts))


def align_message(msgid, msgstr):
    """Aligned segments of a (possibly multi-line) gettext message: paragraphs split at blank
    lines when both sides have as many; option-list lines aligned line by line."""
    sp = [p for p in re.split(r"\n\s*\n", msgid) if p.strip()]
    tp = [p for p in re.split(r"\n\s*\n", msgstr) if p.strip()]
    if len(sp) != len(tp):
        return align([msgid], [msgstr]) if len(_join([msgid])) <= MAXLEN else []
    out = []
    for a, b in zip(sp, tp):
        al, bl = a.split("\n"), b.split("\n")
        if (len(al) == len(bl) > 1 and all(x.lstrip().startswith("-") == y.lstrip().startswith("-")
                                          for x, y in zip(al, bl))
                and sum(x.lstrip().startswith("-") for x in al) * 2 >= len(al)):
            out += [(x, y) for x, y in zip(al, bl)]
        else:
            out += align(al, bl)
    return out


# ---- cleaning ----------------------------------------------------------------------------------
PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t|I64)?"
    r"[diouxXeEfFgGaAcsSpnm%@]"          # printf
    r"|%\(\w+\)[a-z]|%\d+|%[A-Za-z_]+%"   # python named, Qt %1, %VAR%
    r"|\{[\w.:!-]*\}|\$\{?\w+\}?"         # {0} {name} $VAR ${VAR}
    r"|<[^<>]{1,120}>|&[a-zA-Z]+;|&#x?[0-9a-fA-F]+;"  # markup, entities
    r"|https?://\S+|\S+@\S+\.\w+")        # URLs, e-mail addresses
JUNK_IDS = {"translator-credits", "translator_credits", "your names", "your emails",
            "name of translators", "email of translators", "translators", "translated by"}
_CJK_ACCEL = re.compile(r"\s*[(（]\s*[_&~][^\s)）]\s*[)）]")


def strip_accels(s, t):
    """Removes keyboard accelerator markers (_File, &File, 'ファイル(_F)') from both sides
    alike; an underscored token present verbatim on both sides is an identifier and stays."""
    s, t = _CJK_ACCEL.sub("", s), _CJK_ACCEL.sub("", t)
    t_tokens, s_tokens = set(t.split()), set(s.split())

    def fix(x, other):
        def rep(m):
            tok = m.group(0)
            if tok in other or tok.isupper() or tok.count("_") + tok.count("&") != 1:
                return tok
            return re.sub(r"[_&](?=\w)", "", tok, count=1)
        x = x.replace("&&", "\x01")
        x = re.sub(r"\S*(?:_|&(?![a-zA-Z]+;|#))\w\S*", rep, x)
        return x.replace("\x01", "&")
    return fix(s, t_tokens), fix(t, s_tokens)


_LETTER = re.compile(r"[^\W\d_]")
_LATIN_EN = re.compile(r"[A-Za-z\u00c0-\u017f]")      # English source: Latin letters
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_KANA_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff]")


def letters(x):
    return len(_LETTER.findall(x))


def mostly_placeholders(x):
    core = PLACEHOLDER.sub("", x)
    n = letters(core)
    return n < 2 or n < 0.5 * len("".join(x.split()))


def script_ok(t, lang):
    """Whether a translation is written in its language's script (not left in English for
    ja/ru/uk: Japanese needs kana or kanji, Cyrillic 30% of the letters; Latin 80%)."""
    if lang == "ja":
        return _KANA_KANJI.search(t) is not None
    if lang in ("ru", "uk"):
        return len(_CYRILLIC.findall(t)) >= 0.3 * letters(t)
    return len(_LATIN.findall(t)) >= 0.8 * letters(t)


def normalise(x):
    x = unicodedata.normalize("NFC", x)
    return " ".join(x.replace("\t", " ").replace("\r", " ").split())


def clean_pair(src, tgt, lang, maxlen=MAXLEN):
    """The cleaned (english, translation) pair, or None when a rule drops it."""
    if src.strip().lower() in JUNK_IDS or "\ufffd" in src + tgt:
        return None
    s, t = strip_accels(normalise(src), normalise(tgt))
    s, t = normalise(s), normalise(t)
    if not (MINLEN <= len(s) <= maxlen and MINLEN <= len(t) <= maxlen):
        return None
    if s.casefold() == t.casefold():   # untranslated (or only re-cased)
        return None
    if _CONTROL.search(s) or _CONTROL.search(t):
        return None
    if mostly_placeholders(s) or mostly_placeholders(t):
        return None
    if len(_LATIN_EN.findall(s)) < 0.9 * letters(s) or not script_ok(t, lang):
        return None
    if min(len(s), len(t)) >= 20:
        r = len(t) / len(s)
        if not ((0.15 if lang == "ja" else 0.4) <= r <= 2.5):
            return None
    return s, t


@functools.lru_cache(maxsize=None)
def split_of(english):
    """Deterministic split of an English source string (case, punctuation and accelerator
    markers ignored, so near-identical strings share one): ('valid'|'test'|'train', rank)."""
    key = " ".join(re.sub(r"[\W_]+", " ", english.lower()).split())
    h = int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") / 2.0 ** 64
    if h < HELD_OUT:
        return "valid", h
    if h < 2 * HELD_OUT:
        return "test", h - HELD_OUT
    return "train", h


# ---- the corpus being built --------------------------------------------------------------------
class Corpus:
    """English source -> {translation: origin} per language, first origin wins."""

    def __init__(self, langs, maxlen):
        self.langs, self.maxlen = langs, maxlen
        self.pairs = {lang: {} for lang in langs}
        self.added = collections.Counter()

    def add(self, lang, src, tgt, origin, segmented=False):
        if lang not in self.pairs:
            return
        for a, b in ([(src, tgt)] if segmented else align_message(src, tgt)):
            c = clean_pair(a, b, lang, self.maxlen)
            if c:
                d = self.pairs[lang].setdefault(c[0], {})
                if c[1] not in d:
                    d[c[1]] = origin
                    self.added[origin] += 1

    def insert(self, lang, s, t, origin):
        """Adds an already cleaned pair (from a cache), subject to this corpus's maxlen."""
        if lang in self.pairs and len(s) <= self.maxlen and len(t) <= self.maxlen:
            d = self.pairs[lang].setdefault(s, {})
            if t not in d:
                d[t] = origin
                self.added[origin] += 1

    def rows(self, lang):
        return [(s, t) for s, d in self.pairs[lang].items() for t in d]

    def directions(self, pivots):
        """{direction: [(src, tgt, english, origin)]} for en-X and the pivot directions."""
        out = {}
        for lang in self.langs:
            out["en-" + lang] = [(s, t, s, o) for s, d in self.pairs[lang].items()
                                 for t, o in d.items()]
        for x, y in pivots:
            px, py, rows = self.pairs[x], self.pairs[y], []
            for en in px.keys() & py.keys():
                for tx in list(px[en])[:2]:
                    for ty in list(py[en])[:2]:
                        if tx != ty:
                            rows.append((tx, ty, en, "pivot"))
            out[f"{x}-{y}"] = rows
        return out


def split_rows(rows, caps=None):
    """{'train','valid','test': rows} by English source; held-out sets capped (CAP, or the
    profile's caps); the capped-away held-out rows are dropped, never moved into train."""
    train_cap, held_cap = caps if caps else (None, CAP)
    parts = {"train": [], "valid": [], "test": []}
    for r in rows:
        name, rank = split_of(r[2])
        parts[name].append((rank, r))
    for name, cap in (("valid", held_cap), ("test", held_cap), ("train", train_cap)):
        lst = parts[name]
        if cap and len(lst) > cap:
            lst = sorted(lst, key=lambda x: (x[0], x[1][0], x[1][1]))[:cap]
        # shuffled, deterministically
        parts[name] = sorted((r for _, r in lst), key=lambda r: (
            zlib.crc32(f"{r[0]}\t{r[1]}".encode()), r[0], r[1]))
    return parts


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


# ---- descriptions (DDTP) -----------------------------------------------------------------------
def descriptions(path, lang):
    """{Description-md5: Description-LANG} of one Translation index."""
    text = read_text(path)
    key = "Description-" + lang
    return {p["Description-md5"]: p[key] for p in parse_deb822(text)
            if key in p and "Description-md5" in p}


def add_descriptions(corpus, english, translated, origin, lang):
    for md5, tdesc in translated.items():
        edesc = english.get(md5)
        if not edesc:
            continue
        ep, tp = description_segments(edesc), description_segments(tdesc)
        if len(ep) != len(tp):
            ep, tp = ep[:1], tp[:1]
        for a, b in zip(ep, tp):
            for s, t in align(a, b):
                corpus.add(lang, s, t, origin, segmented=True)


def catalog_pairs(paths, lang):
    """(cleaned pairs, warnings) of some .mo catalogs of one language (one package's)."""
    c, warnings = Corpus([lang], MAXLEN), []
    for path in paths:
        try:
            with open(path, "rb") as f:
                entries = mo_entries(f.read())
        except (OSError, ValueError) as e:
            warnings.append(f"{os.path.basename(path)}: {e}")
            continue
        for mid, mstr in entries:
            c.add(lang, mid, mstr, "")
    return c.rows(lang), warnings


def description_pairs(english, translated, lang):
    """Cleaned pairs of the DDTP: {md5: English description}, {md5: translated description}."""
    c = Corpus([lang], MAXLEN)
    add_descriptions(c, english, translated, "", lang)
    return c.rows(lang)
