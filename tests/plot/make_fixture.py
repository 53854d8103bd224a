#!/usr/bin/env python3
"""make_fixture.py — writes tests/plot/fixtures/metrics.jsonl, a synthetic metrics file in the
trainer's format for the `mamc plot` test (run once; the file is committed):

  3 tasks, 600 steps; a train record every 5 steps (tasks in turn, noisy decaying losses,
  loss_avg); a valid record every 50 steps with per-task loss, mean, bleu and chrf; a
  restart (a second run appended, from step 300 on, whose points must replace the first
  run's); one truncated line and one blank line (skipped with a warning).

    python3 tests/plot/make_fixture.py
"""
import json
import math
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "metrics.jsonl")
TASKS = ["translate-en-de", "translate-de-en", "translate-en-fr"]


def run(rng, first, last, bias):
    rows, avg, n = [], 0.0, 0
    for step in range(first, last + 1, 5):
        if step % 50 == 0:
            loss = {t: round(2.0 + 4.5 * math.exp(-step / (150 + 40 * i)) + bias, 6) for i, t in enumerate(TASKS)}
            rows.append({"type": "valid", "step": step, "loss": loss,
                         "mean": round(sum(loss.values()) / len(loss), 6),
                         "bleu": {t: round(max(0.0, 35 * (1 - math.exp(-step / 200)) - 3 * i - 10 * bias), 4)
                                  for i, t in enumerate(TASKS)},
                         "chrf": {t: round(20 + 40 * (1 - math.exp(-step / 180)) - 2 * i, 4)
                                  for i, t in enumerate(TASKS)}})
        if step == 0:
            continue
        i = (step // 5) % len(TASKS)
        loss = 2.1 + 4.5 * math.exp(-step / (140 + 40 * i)) + rng.gauss(0, 0.25) + bias
        n += 1
        avg += (loss - avg) / n
        rows.append({"type": "train", "step": step, "task": TASKS[i], "loss": round(loss, 6),
                     "loss_avg": round(avg, 6), "lr": 0.001, "tokens": step * 900})
    return rows


def main():
    rng = random.Random(8)
    lines = [json.dumps(r) for r in run(rng, 0, 400, 0.4)]   # the first run, abandoned after 400
    lines.append('{"type": "train", "step": 405, "task": "transl')  # killed mid-write
    lines.append("")
    lines += [json.dumps(r) for r in run(rng, 300, 600, 0.0)]  # resumed from step 300
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
