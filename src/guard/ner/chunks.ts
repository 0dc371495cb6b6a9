/** Texts longer than this are scanned in pieces, so token lists stay small and short-lived. */
export const CHUNK = 32 * 1024;
/** How far back from a chunk's end to look for a good place to cut. */
const LOOK_BACK = 4 * 1024;

/**
 * `text.lastIndexOf(needle, from)` when that is ≥ `floor`, else -1; reads only [floor, from], so
 * a text without the needle costs LOOK_BACK per chunk, not its whole prefix.
 */
function lastIndexAbove(text: string, needle: string, from: number, floor: number): number {
  const c0 = needle.charCodeAt(0);
  for (let i = Math.min(from, text.length - needle.length); i >= floor; i--) {
    if (text.charCodeAt(i) === c0 && text.startsWith(needle, i)) return i;
  }
  return -1;
}

/**
 * Cuts `text` into [start, end) pieces of at most CHUNK code units, preferring a blank line,
 * then a line break, then a sentence end, then a space, so that no name (and almost no address) is cut in two.
 * Never cuts between the halves of a surrogate pair.
 */
export function chunks(text: string): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  while (text.length - start > CHUNK) {
    const hard = start + CHUNK;
    const floor = hard - LOOK_BACK;
    let cut = lastIndexAbove(text, '\n\n', hard, floor);
    if (cut < floor) cut = lastIndexAbove(text, '\n', hard, floor);
    if (cut < floor) {
      cut = lastIndexAbove(text, '. ', hard, floor);
      if (cut >= floor) cut++;
    }
    if (cut < floor) cut = lastIndexAbove(text, ' ', hard, floor);
    if (cut < floor) {
      cut = hard;
      const c = text.charCodeAt(cut);
      if (c >= 0xdc00 && c <= 0xdfff) cut--;
    }
    if (cut <= start) cut = hard;
    out.push([start, cut]);
    start = cut;
  }
  out.push([start, text.length]);
  return out;
}
