"""overlap.py: reads `pdftotext -bbox` output on stdin and reports words that overlap one
another or stray outside the page's margins: what a person would see as text drawn over
text or running off the page. Prints one line, exits 1 on any problem.
Usage: pdftotext -bbox X.pdf - | python3 overlap.py MARGIN"""
import re
import sys

PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')
# Glyph boxes come from the font's ascent and descent, which may touch the next line's.
SLACK = 1.0


def main():
    margin = float(sys.argv[1])
    pages = []
    for line in sys.stdin:
        m = PAGE.search(line)
        if m:
            pages.append((float(m.group(1)), float(m.group(2)), []))
            continue
        m = WORD.search(line)
        if m and pages:
            box = tuple(float(v) for v in m.groups()[:4])
            pages[-1][2].append((box, m.group(5)))
    problems = []
    nwords = 0
    for n, (w, h, words) in enumerate(pages, 1):
        nwords += len(words)
        for (x0, y0, x1, y1), text in words:
            if x0 < margin - SLACK or x1 > w - margin + SLACK or y0 < 0 or y1 > h:
                problems.append("page %d: %r outside the margins" % (n, text))
        words.sort(key=lambda wd: wd[0][1])
        for i, ((ax0, ay0, ax1, ay1), at) in enumerate(words):
            for (bx0, by0, bx1, by1), bt in words[i + 1:]:
                if by0 >= ay1 - SLACK:
                    break
                if min(ax1, bx1) - max(ax0, bx0) > SLACK and min(ay1, by1) - max(ay0, by0) > SLACK:
                    problems.append("page %d: %r overlaps %r" % (n, at, bt))
    if problems or nwords == 0:
        print("%d words; %s" % (nwords, "; ".join(problems[:5]) or "no words"))
        return 1
    print("%d words on %d pages, none overlapping, all within the margins" % (nwords, len(pages)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
