#!/usr/bin/env python3
"""make_fixture.py — builds the BLEU/chrF golden fixture of tests/eval/fixtures/ (run once;
the files are committed, so the tests never need Python packages):

  ref.txt   600 real lines: the target side of data/sample/{en-de,en-fr,en-es}/test.tsv
            (German, French, Spanish) and the English source of en-de, 150 lines each
  hyp.txt   a perturbed copy, seeded: dropped, swapped, duplicated words, typos (accented
            letters too), case flips, HTML entities (&quot; &amp;), no-break spaces,
            trailing spaces, a few empty and a few untouched lines
  ref2.txt  a second, lightly perturbed reference (the multi-reference case)

and, when sacreBLEU is installed (pip install sacrebleu), expected.txt: the scores sacreBLEU
computes for them, to compare `mamc eval` against (tests/eval/golden_test.sh):

    python3 tests/eval/make_fixture.py            # from the repository root
"""
import os
import random

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "eval", "fixtures")

ACCENTS = "éèêàçôûüöäßñáíóú"


def column(pair, col, n):
    with open(os.path.join(ROOT, "data", "sample", pair, "test.tsv"), encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    return [r[col] for r in rows[:n]]


def typo(w, rng):
    if not w:
        return w
    i = rng.randrange(len(w))
    op = rng.randrange(4)
    if op == 0:
        return w[:i] + w[i + 1:]                       # delete a character
    if op == 1:
        return w[:i] + rng.choice(ACCENTS) + w[i + 1:]  # replace (by an accented letter)
    if op == 2:
        return w[:i] + rng.choice("aeiourstn") + w[i:]  # insert
    return w.swapcase()                                 # case flip


def perturb(line, rng, strength):
    words = line.split(" ")
    for _ in range(rng.randint(1, strength)):
        if not words:
            break
        op = rng.randrange(8)
        i = rng.randrange(len(words))
        if op == 0 and len(words) > 1:
            del words[i]
        elif op == 1 and len(words) > 1:
            j = min(i + 1, len(words) - 1)
            words[i], words[j] = words[j], words[i]
        elif op == 2:
            words.insert(i, words[i])
        elif op in (3, 4):
            words[i] = typo(words[i], rng)
        elif op == 5:
            words[i] = "&quot;" + words[i] + "&quot;" if rng.random() < 0.5 else words[i] + " &amp;"
        elif op == 6:
            words[i] = words[i] + "\u00a0:"
        else:
            words[i] = words[i].upper()
    out = " ".join(words)
    return out + ("  " if rng.random() < 0.1 else "")


def main():
    refs = (column("en-de", 1, 150) + column("en-fr", 1, 150) + column("en-es", 1, 150)
            + column("en-de", 0, 150))
    rng = random.Random(8)
    hyps = []
    for r in refs:
        u = rng.random()
        hyps.append("" if u < 0.02 else r if u < 0.12 else perturb(r, rng, 4))
    refs2 = [perturb(r, rng, 1) if rng.random() < 0.5 else r for r in refs]
    for name, lines in (("ref.txt", refs), ("ref2.txt", refs2), ("hyp.txt", hyps)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(l + "\n" for l in lines))
    try:
        import sacrebleu
    except ImportError:
        print("sacrebleu is not installed: fixture written, expected.txt left as it is")
        return
    rows = []
    for refset, rnames in (([refs], "ref.txt"), ([refs, refs2], "ref.txt,ref2.txt")):
        for lc in (False, True):
            hyp = [h.rstrip() for h in hyps]
            rs = [[x.rstrip() for x in r] for r in refset]
            bleu = sacrebleu.metrics.BLEU(lowercase=lc)
            chrf = sacrebleu.metrics.CHRF(lowercase=lc)
            b = bleu.corpus_score(hyp, rs)
            c = chrf.corpus_score(hyp, rs)
            case = "lc" if lc else "mixed"
            rows.append(f"bleu {rnames} {case} {b.score:.10f}   # {bleu.get_signature()} {b._verbose}")
            rows.append(f"chrf {rnames} {case} {c.score:.10f}   # {chrf.get_signature()}")
    with open(os.path.join(OUT, "expected.txt"), "w", encoding="utf-8") as f:
        f.write(f"# Scores of hyp.txt computed by sacreBLEU {sacrebleu.__version__} (Python API, defaults:\n"
                "# BLEU(lowercase=...), CHRF(lowercase=...); corpus_score over the rstripped lines), written by\n"
                "# tests/eval/make_fixture.py. Equivalent CLI: sacrebleu ref.txt [ref2.txt] -i hyp.txt -m bleu chrf\n"
                "# [-lc] -w 10. Columns: metric, reference files, case, score.\n")
        f.write("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
