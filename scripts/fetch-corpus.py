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
import argparse, collections, concurrent.futures as cf, os, re, shutil, subprocess, sys
import tarfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus_lib import (CLEAN_VERSION, LANGS, MAXLEN, REGION, Corpus,  # noqa: E402
                        catalog_pairs, description_pairs, descriptions, parse_deb822,
                        read_text, split_rows)

MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# ---- profiles ----------------------------------------------------------------------------------
# Package lists ranked by measured new cleaned pairs per MB downloaded, summed over the eight
# languages (greedy, on bookworm 12.x; see data/README.md). "{lang}" expands per language;
# a package missing from the archive is skipped with a warning.
SMALL = """
    freeipa-common geany-plugins-common gcc-12-locales libgphoto2-l10n menu-l10n wx3.2-i18n
    util-linux-locales libreoffice-l10n-{lang} libgpg-error-l10n gwyddion-common
    cairo-dock-plug-in-data gnupg1-l10n libelf1 aegisub-l10n krb5-locales claws-mail-i18n
    iso-codes libexif12 libgegl-common libextractor3 libc-l10n gnokii-cli xfe-i18n
    e2fsprogs-l10n dnf-data pioneers-console-data siril-common libkf5unitconversion-data
    gperiodic libgammu-i18n
""".split()
FULL_EXTRA = """
    kdevelop-l10n qtcurve-l10n elinks-data gutenprint-locales sylpheed-i18n zypper-common
    kile-l10n dico audacity-data tilix-common mailutils-common subversion cryptsetup-bin
    libdnf2-common weechat-core python3-sepolgen libgpaste-2-common libclutter-1.0-common
    eiskaltdcpp-gtk-data gnumeric-common virtinst network-manager-openconnect remmina-common
    libcupt-common fcitx-data plasma-discover-common gdbm-l10n kdeplasma-addons-data gnupg-l10n
    ddccontrol spacefm-common libgoffice-0.10-10-common libgladeui-common gphoto2 mhwaveedit
    libzypp-common dino-im-common appstream fdroidserver pacman-package-manager subtitleeditor
    libkf5mailcommon-data gimagereader-common libgda-5.0-common motion libokteta-l10n
    hexchat-common libkf5incidenceeditor-data libavahi-common-data libkf5ksieve-data
    shared-mime-info xkb-data vala-panel-common libfm-data amule-common gnome-software-common
    cinnamon-l10n libparted-i18n slrn libkf5libkleo-data libkf5akonadi-data mypaint-data gnomint
    libpq5 libmatemixer-common evolution-data-server-common udevil dopewars-data tellico-data
    libuser dnf-plugins-core poedit-common make gnucash-common schroot-common python3-aeidon
    aspell picard libkf5eventviews-data libglib2.0-data libvolume-key1 gsettings-desktop-schemas
    gftp-common vlc-l10n libqalculate-data gelemental git-cola redshift mtpaint planner-data
    easytag peruse-common cpio apper-data libkf5akonadicalendar-data gscan2pdf kaddressbook-data
    system-config-printer-common audacious-plugins-data osmo thunar-data firewalld orage-data
    libkf5calendarsupport-data compiz-core libgtk2.0-common plasma-settings gnome-feeds foliate
    galculator nano minicom latexila-data libkf5tnef5 gnome-flashback-common wput aria2
    syncevolution-common libkf5calendarutils5 udisks2 libsane-common ktexteditor-data yad
    timeshift libalpm13 gbrainy libwnck-common gcal-common thunar-vcs-plugin libkf5sysguard-data
    network-manager-openvpn sugar-session libkf5pimcommon-data akonadi-contacts-data
    krb5-auth-dialog kbd login sonata vdradmin-am mnemosyne samizdat gkrellm orca gawk
    checkinstall sweep gvfs-common mpop rox-filer partimage gnome-firmware kdevelop-python-l10n
    at-spi2-common gnome-settings-daemon-common gtklp libgsf-1-common lynx-common
    transmission-remote-gtk python-apt-common network-manager-gnome libgtk-3-common coreutils
    bash apt dpkg tar gnome-shell-common gnome-control-center-data
""".split()
SAMPLE = ["libreoffice-l10n-{lang}", "util-linux-locales", "menu-l10n", "libgphoto2-l10n"]
PROFILES = {
    # name: (packages, DDTP descriptions, default langs, pivots (None: all), caps, max chars)
    "sample": (SAMPLE, False, ["de", "fr", "es"], [("de", "fr")], (1500, 200), 100),
    "small": (SMALL, False, LANGS, None, None, MAXLEN),
    "full": (SMALL + FULL_EXTRA, True, LANGS, None, None, MAXLEN),
}


def log(msg):
    print(f"fetch-corpus: {msg}", file=sys.stderr, flush=True)


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
                 'Dir::Cache::srcpkgcache "";',
                 'Acquire::Languages { %s };' % " ".join(f'"{x}";' for x in (langs or ["none"])),
                 'Acquire::Retries "2";', 'APT::Get::Show-Versions "false";']
        if os.geteuid() == 0:   # files under root's home are out of reach of the _apt user
            lines.append('APT::Sandbox::User "root";')
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def env(self):
        return dict(os.environ, APT_CONFIG=self.conf, LC_ALL="C")

    def update(self, langs, refresh):
        old = read_text(self.stamp).split() if os.path.exists(self.stamp) else None
        want = sorted(set(langs) | set(old or []))
        fresh = old is not None and time.time() - os.path.getmtime(self.stamp) < 86400
        if fresh and not refresh and set(langs) <= set(old) and self.packages_file():
            log(f"apt indexes: cached ({self.lists})")
            return
        self._write_conf(want)
        log(f"apt-get update (bookworm main; translations: {' '.join(want) or 'none'})")
        r = subprocess.run(["apt-get", "-q", "update"], env=self.env(), stdout=sys.stderr)
        if r.returncode != 0 or not self.packages_file():
            raise SystemExit(f"fetch-corpus: error: apt-get update (exit {r.returncode}) got no"
                             f" bookworm main index; is {self.mirror} reachable?")
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
                text = read_text(os.path.join(self.lists, f))
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
            elif dm and m.issym():   # the doc folder, or its copyright, is another package's
                with open(os.path.join(tmp, "doclink"), "w") as f:
                    f.write(os.path.dirname(m.linkname) if dm.group(2) else m.linkname)
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
                found[f.replace(f"!{loc}!", "!@!")] = os.path.join(d, f)
    return [found[k] for k in sorted(found)]


def licence(xdir):
    """Short licence names from a package's copyright file (DEP-5 License: fields, else
    references to /usr/share/common-licenses)."""
    path = os.path.join(xdir, "copyright")
    if not os.path.exists(path):
        link = os.path.join(xdir, "doclink")
        return "see " + read_text(link).strip() if os.path.exists(link) else "unknown"
    text = read_text(path)
    names = re.findall(r"^License:[ \t]*(\S[^\n]*)$", text, re.M)
    if not names:
        names = re.findall(r"/usr/share/common-licenses/([\w.+-]+[\w+])", text)
    uniq = list(dict.fromkeys(n.strip() for n in names))
    return ", ".join(uniq) if uniq else "see copyright"



def read_pairs(path):
    with open(path, encoding="utf-8") as f:
        return [tuple(ln.rstrip("\n").split("\t", 1)) for ln in f]


def write_pairs(path, rows):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(f"{s}\t{t}\n" for s, t in rows)
    os.replace(path + ".tmp", path)


def add_ddtp(apt, corpus, langs):
    """Adds the DDTP description pairs (cached per index file version); returns sources."""
    date, sizes = apt.release_info()
    en_path, english, out = apt.translation_file("en"), None, []

    def size(lang):
        return min([v for k, v in sizes.items()
                    if re.fullmatch(rf"main/i18n/Translation-{lang}\.\w+", k)] or [0])
    for lang in langs:
        path = apt.translation_file(lang)
        if not path or not en_path:
            log(f"warning: no DDTP index for {lang if en_path else 'en'}")
            continue
        stamp = "-".join(str(int(x)) for p in (en_path, path)
                         for x in (os.stat(p).st_size, os.stat(p).st_mtime))
        cpath = os.path.join(apt.root, f"ddtp-v{CLEAN_VERSION}-{lang}-{stamp}.tsv")
        if not os.path.exists(cpath):
            if english is None:
                english = descriptions(en_path, "en")
            for old in os.listdir(apt.root):
                if old.startswith(f"ddtp-v{CLEAN_VERSION}-{lang}-"):
                    os.remove(os.path.join(apt.root, old))
            write_pairs(cpath, description_pairs(english, descriptions(path, lang), lang))
        for s, t in read_pairs(cpath):
            corpus.insert(lang, s, t, "Translation-" + lang)
        out.append(("Translation-" + lang, "bookworm main i18n, " + date,
                    "licences of the described packages (DDTP)", size(lang)))
    if out:
        out.append(("Translation-en", "bookworm main i18n, " + date,
                    "licences of the described packages", size("en")))
    return out


def licences(apt, xdirs, cache):
    """{package: licence}; a package whose doc folder links to another package's (a -data or
    -l10n package pointing at its library, say) gets that package's, fetched for the purpose."""
    out, links = {}, {}
    for p, x in xdirs.items():
        link = os.path.join(x, "doclink")
        if not os.path.exists(os.path.join(x, "copyright")) and os.path.exists(link):
            links[p] = os.path.basename(read_text(link).strip().rstrip("/"))
        else:
            out[p] = licence(x)
    if links:
        infos = apt.show(sorted(set(links.values())))
        debs = apt.download(infos, os.path.join(cache, "debs"))
        for p, target in links.items():
            try:
                x = extract(debs[target], os.path.join(cache, "x", os.path.basename(
                    debs[target])[:-4]))
                out[p] = licence(x) + f" (from {target})"
            except (KeyError, RuntimeError):
                out[p] = f"see package {target}"
    return out


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
    ap.add_argument("--only", action="store_true",
                    help="read only the --packages given, not the profile's list")
    ap.add_argument("--descriptions", choices=["yes", "no"], help="override the profile's DDTP use")
    ap.add_argument("--mirror", default=MIRROR, help=f"Debian mirror (default {MIRROR})")
    ap.add_argument("--refresh", action="store_true", help="re-run apt-get update even if fresh")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="extraction workers")
    a = ap.parse_args(argv)
    t0 = time.time()
    missing = [t for t in ("apt-get", "apt-cache", "dpkg-deb") if not shutil.which(t)]
    if missing:
        log(f"error: {', '.join(missing)} not found: this script needs Debian's apt and dpkg")
        return 1
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
        p.format(lang=lang) for p in ([] if a.only else pkgs) + a.packages.split(",") if p
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

    lic = licences(apt, xdirs, cache)
    corpus = Corpus(langs, maxlen)
    sources = []   # (name, version, licence, bytes)
    todo = {}      # (package, lang) -> cache file, catalogs: cleaned pairs not cached yet
    for p in names:
        for lang in langs if p in xdirs else []:
            cpath = os.path.join(xdirs[p], f"pairs-v{CLEAN_VERSION}-{lang}.tsv")
            if not os.path.exists(cpath):
                todo[p, lang] = (cpath, catalogs(xdirs[p], lang))
    if todo:
        log(f"cleaning {len(todo)} package catalogs x languages")
        with cf.ProcessPoolExecutor(max(1, a.jobs)) as ex:
            futs = {ex.submit(catalog_pairs, paths, k[1]): (k, cpath)
                    for k, (cpath, paths) in todo.items()}
            for f in cf.as_completed(futs):
                (p, lang), cpath = futs[f]
                rows, warnings = f.result()
                for w in warnings:
                    log(f"warning: {p}: {w}")
                write_pairs(cpath, rows)
    for p in names:
        if p not in xdirs:
            continue
        i = infos[p]
        sources.append((p, i["Version"], lic[p], int(i.get("Size", 0))))
        for lang in langs:
            for s, t in read_pairs(os.path.join(xdirs[p], f"pairs-v{CLEAN_VERSION}-{lang}.tsv")):
                corpus.insert(lang, s, t, p)
    log(f"catalogs read ({time.time() - t0:.0f}s)")
    if use_desc:
        sources += add_ddtp(apt, corpus, langs)
        log(f"descriptions read ({time.time() - t0:.0f}s)")

    dirs = corpus.directions(pivots)
    if not any(dirs.values()):
        log("error: no pairs at all (nothing downloaded or readable; see warnings above)")
        return 2
    os.makedirs(out, exist_ok=True)
    for d in os.listdir(out):   # directions of an earlier run with other --langs/--pivots
        old = os.path.join(out, d)
        if (re.fullmatch(r"[a-z]{2}-[a-z]{2}", d) and d not in dirs and os.path.isdir(old)
                and set(os.listdir(old)) <= {"train.tsv", "valid.tsv", "test.tsv"}):
            shutil.rmtree(old)
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
