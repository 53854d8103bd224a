#!/usr/bin/env python3
"""fetch-corpus.py: build mamc's default training corpus from Debian's archive.

Real human translations, two sources, all from Debian 12 (bookworm) main:
  1. gettext catalogs (.mo) shipped in Debian packages: English msgid -> translated msgstr;
  2. the Debian description translation project (DDTP): apt's Translation-XX indexes, whose
     paragraphs pair with Translation-en's by Description-md5.
Packages are fetched with `apt-get download` through a private apt configuration kept in the
cache (nothing is installed, the system's apt state is not touched), the wanted members are
extracted with `dpkg-deb --fsys-tarfile`, parsed, cleaned, split by English source sentence
and written as TSV:  OUT/en-de/{train,valid,test}.tsv, pivot directions such as OUT/de-fr/,
OUT/SOURCES.tsv (package, version, licence, size, pairs) and OUT/stats.tsv.
Python 3 standard library only. See data/README.md, and --help.
"""
import argparse, bz2, collections, concurrent.futures as cf, hashlib, lzma, os, re, shutil
import struct, subprocess, sys, tarfile, time, unicodedata

LANGS = ["de", "fr", "es", "it", "ja", "ru", "uk", "pl"]
REGION = {"de": "DE", "fr": "FR", "es": "ES", "it": "IT", "ja": "JP", "ru": "RU", "uk": "UA",
          "pl": "PL"}
MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MINLEN, MAXLEN = 3, 200
HELD_OUT = 0.02       # hash fraction for valid, the same again for test
CAP = 1000            # at most this many valid (and test) pairs per direction

# ---- profiles: package lists chosen by measured pairs per MB (see data/README.md) -----------
# "{lang}" expands to each requested language. Catalog packages not in the archive are skipped.
SMALL = ["coreutils", "tar"]
FULL_EXTRA = ["libreoffice-l10n-{lang}"]
SAMPLE = ["coreutils", "tar"]
PROFILES = {
    # name: (packages, use DDTP descriptions, default langs, pivots, caps (train, held-out), maxlen)
    "sample": (SAMPLE, False, ["de", "fr", "es"], [("de", "fr")], (1500, 200), 100),
    "small": (SMALL, False, LANGS, None, None, MAXLEN),
    "full": (SMALL + FULL_EXTRA, True, LANGS, None, None, MAXLEN),
}


def log(msg):
    print(f"fetch-corpus: {msg}", file=sys.stderr, flush=True)


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
    for i in range(n):
        ml, mo = struct.unpack_from(end + "2I", data, orig + 8 * i)
        tl, to = struct.unpack_from(end + "2I", data, trans + 8 * i)
        yield data[mo:mo + ml], data[to:to + tl]


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
ABBREV = {"e.g", "i.e", "etc", "vs", "z.b", "b", "d.h", "bzw", "usw", "ca", "nr", "ex", "p.ex",
          "dr", "mr", "mrs", "no", "u.a", "sog", "vgl", "inkl", "evtl", "ggf", "s", "z", "p", "ecc",
          "ej", "p.ej", "approx", "incl", "resp", "cf", "ok", "ver", "ст", "т.е", "т.д", "т.п",
          "т", "д", "др", "np", "tj", "itp", "itd", "m.in", "tzn", "np"}
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=[^\sa-zà-ÿ])|(?<=[。！？])\s*(?=\S)")
_BULLET = re.compile(r"^\s*(?:[-*+o•]|\d+[.)])\s+")


def sentences(text):
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        before = text[start:m.start()]
        last = before.rsplit(None, 1)[-1] if before.split() else ""
        word = last.rstrip(".!?").lower().lstrip("(\"'«")
        if last.endswith(".") and (word in ABBREV or len(word) == 1 or word.isdigit()):
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
                a, b = _join(a), _join(b)
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


def letters(x):
    return sum(1 for c in x if c.isalpha())


def mostly_placeholders(x):
    core = PLACEHOLDER.sub("", x)
    n = letters(core)
    return n < 2 or n < 0.5 * len("".join(x.split()))


def script_ok(t, lang):
    n = letters(t)
    if lang == "ja":
        return any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in t)
    if lang in ("ru", "uk"):
        return sum(1 for c in t if "\u0400" <= c <= "\u04ff") >= 0.3 * n
    return sum(1 for c in t if c.isalpha() and ord(c) < 0x250) >= 0.8 * n


def normalise(x):
    x = unicodedata.normalize("NFC", x)
    return " ".join(x.replace("\t", " ").replace("\r", " ").split())


def clean_pair(src, tgt, lang, maxlen=MAXLEN):
    """The cleaned (english, translation) pair, or None when a rule drops it."""
    if src.strip().lower() in JUNK_IDS or "\ufffd" in src + tgt:
        return None
    s, t = strip_accels(normalise(src), normalise(tgt))
    s, t = normalise(s), normalise(t)
    if not (MINLEN <= len(s) <= maxlen and MINLEN <= len(t) <= maxlen) or s == t:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co") for c in s + t):
        return None
    if mostly_placeholders(s) or mostly_placeholders(t):
        return None
    ls = letters(s)
    if sum(1 for c in s if c.isalpha() and ord(c) < 0x180) < 0.9 * ls or not script_ok(t, lang):
        return None
    if min(len(s), len(t)) >= 20:
        r = len(t) / len(s)
        if not ((0.15 if lang == "ja" else 0.4) <= r <= 2.5):
            return None
    return s, t


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
        lst = sorted(parts[name], key=lambda x: (x[0], x[1][0], x[1][1]))
        parts[name] = [r for _, r in (lst[:cap] if cap else lst)]
    for name in parts:   # shuffled, deterministically
        parts[name].sort(key=lambda r: hashlib.sha1(f"{r[0]}\t{r[1]}".encode()).digest())
    return parts


# ---- apt: a private configuration in the cache -------------------------------------------------
class Apt:
    def __init__(self, cache, mirror):
        self.root = os.path.join(cache, "apt")
        self.lists = os.path.join(self.root, "lists")
        for d in ("lists/partial", "cache/archives/partial", "parts", "etc"):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        status = os.path.join(self.root, "status")
        open(status, "a").close()
        with open(os.path.join(self.root, "etc", "sources.list"), "w") as f:
            signed = f"[signed-by={KEYRING}] " if os.path.exists(KEYRING) else ""
            f.write(f"deb {signed}{mirror} bookworm main\n")
        self.conf = os.path.join(self.root, "apt.conf")
        self.stamp = os.path.join(self.root, "langs.stamp")
        self.mirror = mirror

    def _write_conf(self, langs):
        r = self.root
        lines = [f'Dir::Etc::Parts "{r}/parts";', f'Dir::Etc::Main "{r}/none.conf";',
                 f'Dir::Etc::SourceList "{r}/etc/sources.list";',
                 f'Dir::Etc::SourceParts "{r}/parts";', f'Dir::Etc::Preferences "{r}/none";',
                 f'Dir::Etc::PreferencesParts "{r}/parts";', f'Dir::State::Lists "{self.lists}";',
                 f'Dir::State::status "{r}/status";', f'Dir::Cache "{r}/cache";',
                 'Acquire::Languages { %s };' % " ".join(f'"{x}";' for x in (langs or ["none"])),
                 'Acquire::Retries "2";', 'APT::Get::Show-Versions "false";']
        if os.geteuid() == 0:   # files under root's home are out of reach of the _apt user
            lines.append('APT::Sandbox::User "root";')
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def env(self):
        return dict(os.environ, APT_CONFIG=self.conf, LC_ALL="C")

    def update(self, langs, refresh):
        old = open(self.stamp).read().split() if os.path.exists(self.stamp) else None
        want = sorted(set(langs) | set(old or []))
        fresh = old is not None and time.time() - os.path.getmtime(self.stamp) < 86400
        if fresh and not refresh and set(langs) <= set(old) and self.packages_file():
            log(f"apt indexes: cached ({self.lists})")
            return
        self._write_conf(want)
        log(f"apt-get update (bookworm main; translations: {' '.join(want) or 'none'})")
        r = subprocess.run(["apt-get", "-q", "update"], env=self.env(), stdout=sys.stderr)
        if r.returncode != 0 or not self.packages_file():
            raise SystemExit(f"fetch-corpus: error: apt-get update failed (exit {r.returncode});"
                             f" is {self.mirror} reachable?")
        with open(self.stamp, "w") as f:
            f.write(" ".join(want) + "\n")

    def packages_file(self):
        return [f for f in os.listdir(self.lists) if f.endswith("_Packages")]

    def translation_file(self, lang):
        for f in os.listdir(self.lists):
            if f.endswith("_i18n_Translation-" + lang):
                return os.path.join(self.lists, f)
        return None

    def release_info(self):
        """(date, {index path in the archive: compressed size}) from the InRelease file."""
        date, sizes = "", {}
        for f in os.listdir(self.lists):
            if f.endswith("_InRelease"):
                text = open(os.path.join(self.lists, f), encoding="utf-8", errors="replace").read()
                m = re.search(r"^Date: (.*)$", text, re.M)
                date = m.group(1).strip() if m else ""
                for m in re.finditer(r"^ [0-9a-f]{32} +(\d+) (\S+)$", text, re.M):
                    sizes[m.group(2)] = int(m.group(1))
        return date, sizes

    def show(self, names):
        """{package: {Version, Size, Architecture, ...}} for the candidates apt knows."""
        r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + names, env=self.env(),
                           capture_output=True, text=True)
        return {p["Package"]: p for p in parse_deb822(r.stdout) if "Package" in p}

    def download(self, infos, debdir):
        """Downloads what is not cached; {package: path of the .deb}; failures warned."""
        os.makedirs(debdir, exist_ok=True)
        paths = {p: os.path.join(debdir, "%s_%s_%s.deb" % (p, i["Version"].replace(":", "%3a"),
                                                            i["Architecture"]))
                 for p, i in infos.items()}
        todo = [p for p in infos if not os.path.exists(paths[p])]
        if todo:
            mb = sum(int(infos[p].get("Size", 0)) for p in todo) / 1e6
            log(f"apt-get download: {len(todo)} packages, {mb:.1f} MB")
            r = subprocess.run(["apt-get", "-q", "download"] + todo, env=self.env(), cwd=debdir,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                for p in todo:
                    if not os.path.exists(paths[p]):
                        r = subprocess.run(["apt-get", "-q", "download", p], env=self.env(),
                                           cwd=debdir, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.PIPE, text=True)
                        if r.returncode != 0:
                            log(f"warning: cannot download {p}, skipped: "
                                f"{r.stderr.strip().splitlines()[-1:]}")
        return {p: f for p, f in paths.items() if os.path.exists(f)}


# ---- packages: extraction, catalogs, licences --------------------------------------------------
_MO = re.compile(r"(?:^|/)([a-z]{2,3}(?:_[A-Z]{2})?)/LC_MESSAGES/([^/]+)\.mo$")
_DOC = re.compile(r"^usr/share/doc/([^/]+)(/copyright)?$")
LOCALES = set(LANGS) | {f"{k}_{v}" for k, v in REGION.items()}


def extract(deb, dest):
    """Extracts a package's .mo catalogs (the 8 languages) and copyright files into dest,
    once (dest/.done marks it), through dpkg-deb --fsys-tarfile."""
    if os.path.exists(os.path.join(dest, ".done")):
        return dest
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|*") as tf:
        for m in tf:
            name = m.name.lstrip("./")
            mm, dm = _MO.search(name), _DOC.match(name)
            if mm and mm.group(1) in LOCALES and m.isfile():
                out = os.path.join(tmp, "mo", mm.group(1), name.replace("/", "!"))
            elif dm and dm.group(2) and m.isfile():
                out = os.path.join(tmp, "copyright")
            elif dm and not dm.group(2) and m.issym():
                with open(os.path.join(tmp, "doclink"), "w") as f:
                    f.write(m.linkname)
                continue
            else:
                continue
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(tf.extractfile(m).read())
    if proc.wait() != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"dpkg-deb failed on {deb}")
    open(os.path.join(tmp, ".done"), "w").close()
    shutil.rmtree(dest, ignore_errors=True)
    os.rename(tmp, dest)
    return dest


def catalogs(xdir, lang):
    """Paths of the lang catalogs extracted from one package; a domain found both as 'de'
    and 'de_DE' is read from 'de' only."""
    found = {}
    for loc in (f"{lang}_{REGION[lang]}", lang):
        d = os.path.join(xdir, "mo", loc)
        if os.path.isdir(d):
            for f in sorted(os.listdir(d)):
                found[re.sub(r"^.*?!" + loc + "!", "", f)] = os.path.join(d, f)
    return [found[k] for k in sorted(found)]


def licence(xdir):
    """Short licence names from a package's copyright file (DEP-5 License: fields, else
    references to /usr/share/common-licenses)."""
    path = os.path.join(xdir, "copyright")
    if not os.path.exists(path):
        link = os.path.join(xdir, "doclink")
        return "see " + open(link).read().strip() if os.path.exists(link) else "unknown"
    text = open(path, encoding="utf-8", errors="replace").read()
    names = re.findall(r"^License:[ \t]*(\S[^\n]*)$", text, re.M)
    if not names:
        names = re.findall(r"/usr/share/common-licenses/([\w.+-]+[\w+])", text)
    uniq = list(dict.fromkeys(n.strip() for n in names))
    return ", ".join(uniq[:8]) + (", ..." if len(uniq) > 8 else "") if uniq else "see copyright"


# ---- descriptions (DDTP) -----------------------------------------------------------------------
def descriptions(path, lang):
    """{Description-md5: Description-LANG} of one Translation index."""
    text = open(path, encoding="utf-8", errors="replace").read()
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


# ---- main --------------------------------------------------------------------------------------
def main(argv=None):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(
        prog="fetch-corpus.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Build mamc's training corpus (English<->X and pivoted X<->Y sentence pairs)"
                    " from translations shipped in Debian 12 packages (gettext catalogs) and "
                    "Debian's translated package descriptions (DDTP).",
        epilog="profiles: sample = the committed data/sample/ (de fr es, en-X and de-fr, a few "
               "thousand pairs); small = the default, ~1-3 min with a cold cache; full = adds "
               "large catalogs (libreoffice-l10n-XX ...) and all DDTP descriptions.\n"
               "exit status: 0 ok, 1 error, 2 no pairs at all.")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="small")
    ap.add_argument("--langs", help="comma-separated target languages, from: " + ",".join(LANGS))
    ap.add_argument("--pivots", help="X-Y directions pivoted through English (e.g. de-fr,es-fr),"
                                     " 'all' or 'none'; default: the profile's (small/full: all)")
    ap.add_argument("--out", help="output folder (default data/corpus, sample: data/sample)")
    ap.add_argument("--cache", default=os.environ.get("MAMC_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "mamc", "corpus"),
        help="download/extract cache (default $MAMC_CACHE or ~/.cache/mamc/corpus)")
    ap.add_argument("--packages", default="", help="comma-separated extra packages to read")
    ap.add_argument("--descriptions", choices=["yes", "no"], help="override the profile's DDTP use")
    ap.add_argument("--mirror", default=MIRROR, help=f"Debian mirror (default {MIRROR})")
    ap.add_argument("--refresh", action="store_true", help="re-run apt-get update even if fresh")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="extraction workers")
    a = ap.parse_args(argv)
    t0 = time.time()
    pkgs, use_desc, langs, pivots, caps, maxlen = PROFILES[a.profile]
    if a.langs:
        langs = [x.strip() for x in a.langs.split(",") if x.strip()]
        bad = [x for x in langs if x not in LANGS]
        if bad:
            ap.error(f"unsupported language(s) {','.join(bad)}; choose from {','.join(LANGS)}")
    if a.pivots:
        pivots = (None if a.pivots == "all" else [] if a.pivots == "none" else
                  [tuple(p.split("-")) for p in a.pivots.split(",")])
        if pivots and any(len(p) != 2 or not set(p) <= set(langs) for p in pivots):
            ap.error("--pivots: each must be X-Y with X and Y among --langs")
    if pivots is None:
        pivots = [(x, y) for i, x in enumerate(sorted(langs)) for y in sorted(langs)[i + 1:]]
    pivots = [p for p in pivots if p[0] in langs and p[1] in langs]
    if a.descriptions:
        use_desc = a.descriptions == "yes"
    out = a.out or os.path.join(repo, "data", "sample" if a.profile == "sample" else "corpus")
    names = list(dict.fromkeys(
        p.format(lang=lang) for p in pkgs + [x for x in a.packages.split(",") if x]
        for lang in (langs if "{lang}" in p else [None])))
    cache = os.path.abspath(a.cache)
    log(f"profile {a.profile}: langs {','.join(langs)}; {len(names)} packages; descriptions "
        f"{'yes' if use_desc else 'no'}; cache {cache}; out {out}")

    apt = Apt(cache, a.mirror)
    apt.update((["en"] + langs) if use_desc else [], a.refresh)
    infos = apt.show(names)
    for p in names:
        if p not in infos:
            log(f"warning: package {p} is not in bookworm main, skipped")
    debs = apt.download(infos, os.path.join(cache, "debs"))
    log(f"packages: {len(debs)} ready ({time.time() - t0:.0f}s)")
    xdirs = {}
    with cf.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        futs = {ex.submit(extract, d, os.path.join(cache, "x", os.path.basename(d)[:-4])): p
                for p, d in debs.items()}
        for f in cf.as_completed(futs):
            try:
                xdirs[futs[f]] = f.result()
            except Exception as e:   # a broken package must not stop the others
                log(f"warning: {futs[f]}: {e}, skipped")
    log(f"extracted ({time.time() - t0:.0f}s)")

    corpus = Corpus(langs, maxlen)
    sources = []   # (name, version, licence, bytes)
    for p in names:
        if p not in xdirs:
            continue
        i = infos[p]
        sources.append((p, i["Version"], licence(xdirs[p]), int(i.get("Size", 0))))
        for lang in langs:
            for path in catalogs(xdirs[p], lang):
                try:
                    for mid, mstr in mo_entries(open(path, "rb").read()):
                        corpus.add(lang, mid, mstr, p)
                except (ValueError, struct.error) as e:
                    log(f"warning: {os.path.basename(path)}: {e}")
    log(f"catalogs read ({time.time() - t0:.0f}s)")
    if use_desc:
        date, sizes = apt.release_info()
        en_path = apt.translation_file("en")
        english = descriptions(en_path, "en") if en_path else {}
        for lang in langs:
            path = apt.translation_file(lang)
            if not path or not english:
                log(f"warning: no DDTP index for {lang}{'' if english else ' (or en)'}")
                continue
            origin = "Translation-" + lang
            add_descriptions(corpus, english, descriptions(path, lang), origin, lang)
            size = min([v for k, v in sizes.items()
                        if re.fullmatch(rf"main/i18n/Translation-{lang}\.\w+", k)] or [0])
            sources.append((origin, "bookworm main i18n, " + date,
                            "licences of the described packages (DDTP)", size))
        if english:
            size = min([v for k, v in sizes.items()
                        if re.fullmatch(r"main/i18n/Translation-en\.\w+", k)] or [0])
            sources.append(("Translation-en", "bookworm main i18n, " + date,
                            "licences of the described packages", size))
        log(f"descriptions read ({time.time() - t0:.0f}s)")

    dirs = corpus.directions(pivots)
    if not any(dirs.values()):
        log("error: no pairs at all (nothing downloaded or readable; see warnings above)")
        return 2
    os.makedirs(out, exist_ok=True)
    stats, used = [], collections.Counter()
    for d, rows in dirs.items():
        parts = split_rows(rows, caps)
        os.makedirs(os.path.join(out, d), exist_ok=True)
        for name, lst in parts.items():
            with open(os.path.join(out, d, name + ".tsv"), "w", encoding="utf-8") as f:
                f.writelines(f"{s}\t{t}\n" for s, t, _, _ in lst)
            stats.append((d, name, len(lst)))
            if d.startswith("en-"):
                used.update(o for _, _, _, o in lst)
    with open(os.path.join(out, "stats.tsv"), "w") as f:
        f.write("direction\tsplit\tpairs\n")
        f.writelines(f"{d}\t{n}\t{c}\n" for d, n, c in stats)
    with open(os.path.join(out, "SOURCES.tsv"), "w") as f:
        f.write("source\tversion\tlicence\tdownload_bytes\tpairs_used\n")
        f.writelines(f"{n}\t{v}\t{lic}\t{b}\t{used[n]}\n" for n, v, lic, b in sources
                     if used[n] or not caps)
    dl = sum(b for _, _, _, b in sources)
    log(f"done in {time.time() - t0:.0f}s: {len(dirs)} directions, "
        f"{sum(c for _, _, c in stats)} pairs, sources {dl / 1e6:.1f} MB -> {out}")
    for d in dirs:
        c = {n: k for dd, n, k in stats if dd == d}
        log(f"  {d}: train {c['train']} valid {c['valid']} test {c['test']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
