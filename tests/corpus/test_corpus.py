#!/usr/bin/env python3
"""Unit test of the corpus tools (scripts/corpus_lib.py, scripts/fetch-corpus.py), no network.

Writes a tiny .mo catalog with struct (both byte orders), parses a tiny deb822 Translation
snippet, and checks the cleaning rules, the alignment of long blocks, the split by English
source (all translations of one English string, in every direction, land in one split), the
held-out caps, --help, and the format of the committed data/sample/ when it is there.
Run: python3 tests/corpus/test_corpus.py   (ctest -L unit runs it as corpus_parse)
"""
import os, struct, subprocess, sys, tempfile, unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import corpus_lib as cl  # noqa: E402


def make_mo(entries, big_endian=False, charset="UTF-8"):
    """Bytes of a GNU .mo file holding entries [(msgid, msgstr)] (str or bytes), sorted."""
    header = (f"Project-Id-Version: test\nContent-Type: text/plain; charset={charset}\n"
              "Plural-Forms: nplurals=2; plural=(n != 1);\n")
    items = [("", header)] + list(entries)
    enc = [(m if isinstance(m, bytes) else m.encode(charset),
            s if isinstance(s, bytes) else s.encode(charset)) for m, s in items]
    enc.sort(key=lambda e: e[0])
    e = ">" if big_endian else "<"
    n = len(enc)
    orig, trans = 28, 28 + 8 * n
    data_start = 28 + 16 * n
    ids, strs, blob = [], [], b""
    for m, _ in enc:
        ids.append((len(m), data_start + len(blob)))
        blob += m + b"\0"
    for _, s in enc:
        strs.append((len(s), data_start + len(blob)))
        blob += s + b"\0"
    out = struct.pack(e + "7I", 0x950412DE, 0, n, orig, trans, 0, 0)
    out += b"".join(struct.pack(e + "2I", *x) for x in ids)
    out += b"".join(struct.pack(e + "2I", *x) for x in strs)
    return out + blob


ENTRIES = [
    ("Open the selected file", "Die ausgewählte Datei öffnen"),
    ("menu\x04_File", "_Datei"),                              # context: prefix stripped
    ("%d file\x00%d files", "%d Datei\x00%d Dateien"),         # plural: dropped
    ("%s (%s)", "%s (%s)"),                                    # placeholders only: dropped
    ("%s: %d", "%s: %d items"),                                # mostly placeholders: dropped
    ("Untranslated text", "Untranslated text"),                # target == source: dropped
    ("Save _As…", "Speichern _unter…"),                        # GTK accelerators
    ("&Open File", "Datei ö&ffnen"),                           # Qt accelerators
    ("Set the LC_ALL variable", "Die Variable LC_ALL setzen"),  # identifier kept
    ("Hello\n   world", "Hallo\tWelt"),                        # whitespace normalised
    ("OK", "Okay"),                                            # too short: dropped
    ("A" * 150 + " long one", "B" * 150 + " lange"),          # one side > 200? no: kept
    ("translator-credits", "Max Mustermann"),                  # junk id: dropped
    ("Bad bytes here", b"Kaputte \xff Bytes"),                 # invalid UTF-8: dropped
    ("Empty translation", ""),                                 # untranslated: dropped
    ("Usage: prog [OPTION]\n\nCopy the files.\nKeep the dates.",
     "Aufruf: prog [OPTION]\n\nDie Dateien kopieren.\nDie Daten behalten."),
]


class MoTest(unittest.TestCase):
    def test_parse_both_byte_orders(self):
        for big in (False, True):
            raw = list(cl.parse_mo(make_mo(ENTRIES, big_endian=big)))
            self.assertEqual(len(raw), len(ENTRIES) + 1)
            self.assertIn((b"", raw[0][1]), raw)   # the header sorts first
            got = dict(cl.mo_entries(make_mo(ENTRIES, big_endian=big)))
            self.assertNotIn("", got)                        # header skipped
            self.assertEqual(got["_File"], "_Datei")         # context stripped
            self.assertFalse(any("\x00" in k for k in got))  # plurals skipped
            self.assertNotIn("Empty translation", got)
            self.assertNotIn("Bad bytes here", got)          # undecodable: skipped

    def test_bad_files(self):
        with self.assertRaises(ValueError):
            list(cl.parse_mo(b"not a catalog at all, really not"))
        with self.assertRaises(ValueError):
            list(cl.parse_mo(make_mo(ENTRIES)[:60]))

    def test_latin1_catalog(self):
        data = make_mo([("Size of the window", "Größe des Fensters")], charset="ISO-8859-1")
        self.assertEqual(dict(cl.mo_entries(data))["Size of the window"], "Größe des Fensters")

    def test_cleaned_pairs(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "test.mo")
            with open(path, "wb") as f:
                f.write(make_mo(ENTRIES))
            rows, warnings = cl.catalog_pairs([path], "de")
        self.assertEqual(warnings, [])
        got = dict(rows)
        want = {
            "Open the selected file": "Die ausgewählte Datei öffnen",
            "File": "Datei",
            "Save As…": "Speichern unter…",
            "Open File": "Datei öffnen",
            "Set the LC_ALL variable": "Die Variable LC_ALL setzen",
            "Hello world": "Hallo Welt",
            "A" * 150 + " long one": "B" * 150 + " lange",
            "Usage: prog [OPTION]": "Aufruf: prog [OPTION]",
            "Copy the files. Keep the dates.": "Die Dateien kopieren. Die Daten behalten.",
        }
        self.assertEqual(got, want)
        for s, t in rows:
            self.assertTrue(3 <= len(s) <= 200 and 3 <= len(t) <= 200)
            self.assertNotIn("\t", s + t)
            self.assertNotIn("\n", s + t)


class CleanTest(unittest.TestCase):
    def test_rules(self):
        c = cl.clean_pair
        self.assertEqual(c("_File", "ファイル(_F)", "ja"), ("File", "ファイル"))
        self.assertEqual(c("E_xit", "_Beenden", "de"), ("Exit", "Beenden"))
        self.assertEqual(c("Save && Close", "Speichern && Schließen", "de"),
                         ("Save & Close", "Speichern & Schließen"))
        self.assertEqual(c("Tom & Jerry", "Tom & Jerry et Spike", "fr"),
                         ("Tom & Jerry", "Tom & Jerry et Spike"))
        self.assertEqual(c("Use file_name here", "file_name hier verwenden", "de"),
                         ("Use file_name here", "file_name hier verwenden"))
        self.assertIsNone(c("open", "Open", "de"))              # same but for case
        self.assertIsNone(c("x" * 201, "y" * 150, "de"))        # too long
        self.assertIsNone(c("{0} {1}", "{1} {0}", "de"))        # placeholders only
        self.assertIsNone(c("<b>%s</b>", "<b>%s</b>!", "de"))   # markup + placeholder
        self.assertIsNone(c("Cancel", "Cancel (EN)", "ru"))     # not Cyrillic
        self.assertIsNone(c("Cancel", "Cancel it", "ja"))       # no kana/kanji
        self.assertEqual(c("Cancel", "Отмена", "ru"), ("Cancel", "Отмена"))
        self.assertIsNone(c("Open it", "Öff\x07nen", "de"))     # control character
        self.assertIsNone(c("A short sentence here.", "Ein sehr, sehr, sehr, sehr, sehr, "
                            "sehr, sehr, sehr langer Satz ohne Ende.", "de"))   # length ratio

    def test_sentences(self):
        self.assertEqual(cl.sentences("Use e.g. this one. Then stop! Ok?"),
                         ["Use e.g. this one.", "Then stop!", "Ok?"])
        self.assertEqual(cl.sentences("これは本です。あれはペンです。"),
                         ["これは本です。", "あれはペンです。"])


TRANSLATION_EN = """Package: tar
Description-md5: 48033bf96442788d1f697785773ad9bb
Description-en: GNU version of the tar archiving utility
 Tar is a program for packaging a set of files as a single archive in tar
 format.  The function it performs is conceptually similar to cpio, and to
 things like PKZIP in the DOS world.  It is heavily used by the Debian package
 management system, and is useful for performing system backups.
 .
 Features:
  * compression with gzip
  * remote archives

Package: other
Description-md5: 00000000000000000000000000000000
Description-en: something with no translation
"""
TRANSLATION_DE = """Package: tar
Description-md5: 48033bf96442788d1f697785773ad9bb
Description-de: GNU-Version des tar-Archivierungsprogramms
 Tar ist ein Programm, mit dem man mehrere Dateien in einem einzelnen
 Archiv im tar-Format ablegen kann. Die Funktionsweise ähnelt vom Konzept
 her der von cpio und der von Programmen wie PKZIP aus der DOS-Welt. Es
 wird intensiv vom Debian-Paketverwaltungssystem genutzt und ist nützlich
 zur Sicherung von Systemdaten.
 .
 Funktionen:
  * Kompression mit gzip
  * entfernte Archive
"""


class TranslationTest(unittest.TestCase):
    def test_deb822(self):
        paras = cl.parse_deb822(TRANSLATION_EN)
        self.assertEqual([p["Package"] for p in paras], ["tar", "other"])
        self.assertTrue(paras[0]["Description-en"].startswith("GNU version"))
        self.assertEqual(len(cl.description_segments(paras[0]["Description-en"])), 3)

    def test_description_pairs(self):
        with tempfile.TemporaryDirectory() as d:
            for lang, text in (("en", TRANSLATION_EN), ("de", TRANSLATION_DE)):
                with open(os.path.join(d, "Translation-" + lang), "w") as f:
                    f.write(text)
            en = cl.descriptions(os.path.join(d, "Translation-en"), "en")
            de = cl.descriptions(os.path.join(d, "Translation-de"), "de")
        self.assertEqual(len(en), 2)
        got = dict(cl.description_pairs(en, de, "de"))
        self.assertEqual(got["GNU version of the tar archiving utility"],
                         "GNU-Version des tar-Archivierungsprogramms")
        # the long paragraph, split in three sentences on both sides
        self.assertEqual(got["It is heavily used by the Debian package management system, and "
                             "is useful for performing system backups."],
                         "Es wird intensiv vom Debian-Paketverwaltungssystem genutzt und ist "
                         "nützlich zur Sicherung von Systemdaten.")
        self.assertIn("Tar is a program for packaging a set of files as a single archive in tar"
                      " format.", got)
        self.assertEqual(got["Features: * compression with gzip * remote archives"],
                         "Funktionen: * Kompression mit gzip * entfernte Archive")
        self.assertEqual(len(got), 5)


class SplitTest(unittest.TestCase):
    def corpus(self, n):
        c = cl.Corpus(["de", "fr"], 200)
        for i in range(n):
            en = f"Message number {i}"
            c.insert("de", en, f"Nachricht Nummer {i}", "p")
            c.insert("de", en, f"Meldung Nummer {i}", "q")        # two translations
            if i % 3:
                c.insert("fr", en, f"Message numéro {i}", "p")
        return c

    def test_split_by_source(self):
        c = self.corpus(6000)
        dirs = c.directions([("de", "fr")])
        self.assertEqual(len(dirs["en-de"]), 12000)
        self.assertEqual(len(dirs["de-fr"]), 8000)
        split_of_en, held = {}, set()
        for d, rows in dirs.items():
            parts = cl.split_rows(rows)
            self.assertEqual(parts, cl.split_rows(list(reversed(rows))))   # deterministic
            for name, lst in parts.items():
                if name != "train":
                    self.assertLessEqual(len(lst), cl.CAP)
                    self.assertGreater(len(lst), 0)
                for r in lst:
                    self.assertEqual(split_of_en.setdefault(r[2], name), name, r)
                    if name != "train":
                        held.add(r[0])
            train_src = {r[0] for r in parts["train"]}
            self.assertFalse(train_src & {r[0] for r in parts["valid"] + parts["test"]})
        self.assertTrue(held)
        # both translations of one English source share a split
        for i in range(0, 6000, 7):
            self.assertEqual(cl.split_of(f"Message number {i}")[0],
                             cl.split_of(f"message NUMBER {i}!")[0])

    def test_caps(self):
        c = self.corpus(3000)
        parts = cl.split_rows(c.directions([])["en-de"], caps=(500, 40))
        self.assertEqual(len(parts["train"]), 500)
        self.assertEqual(len(parts["valid"]), 40)
        self.assertEqual(len(parts["test"]), 40)


class ScriptTest(unittest.TestCase):
    def test_help(self):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fetch-corpus.py"),
                            "--help"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("--profile", "--langs", "--out", "--cache", "sample", "small", "full"):
            self.assertIn(word, r.stdout)

    def test_sample_files(self):
        sample = os.path.join(ROOT, "data", "sample")
        if not os.path.isdir(sample):
            self.skipTest("no data/sample")
        counts = {}
        for line in open(os.path.join(sample, "stats.tsv"), encoding="utf-8").read().split(
                "\n")[1:]:
            if line:
                d, split, n = line.split("\t")
                counts[d, split] = int(n)
        self.assertTrue({"en-de", "en-fr", "en-es", "de-fr"} <= {d for d, _ in counts})
        total = 0
        for (d, split), n in counts.items():
            with open(os.path.join(sample, d, split + ".tsv"), encoding="utf-8") as f:
                lines = f.read().split("\n")
            self.assertEqual(lines[-1], "")
            self.assertEqual(len(lines) - 1, n, (d, split))
            for ln in lines[:-1]:
                s, t = ln.split("\t")
                self.assertTrue(s and t and s != t)
            total += os.path.getsize(os.path.join(sample, d, split + ".tsv"))
        self.assertLess(total, 1 << 20)
        src = open(os.path.join(sample, "SOURCES.tsv"), encoding="utf-8").read().split("\n")
        self.assertTrue(src[0].startswith("source\tversion\tlicence"))
        self.assertTrue(all(len(r.split("\t")) == 5 and r.split("\t")[2] for r in src[1:] if r))


if __name__ == "__main__":
    unittest.main(verbosity=1)
